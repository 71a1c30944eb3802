Extension: BallProtocolParameter
Id: protocol-parameter
Title: "Protocol parameter"
Description: "One named number or setting of the protocol content (PlanDefinition), read by the protocol engine (adapter/protocol/content.py): the parameters are listed there with their protocol.md sections. Where the sources disagree or are silent the value is our explicit, documented choice."
Context: PlanDefinition, PlanDefinition.action, PlanDefinition.action.action
* ^status = #draft
* extension contains
    name 1..1 and
    value 1..1 and
    source 1..1
* extension[name] ^short = "Parameter name (e.g. weight-boundary-kg)"
* extension[name].value[x] only code
* extension[value] ^short = "Parameter value"
* extension[value].value[x] only decimal or integer or boolean or string
* extension[source] ^short = "Citation: protocol.md section and source ([V23], [S22]) or 'ours'"
* extension[source].value[x] only string
