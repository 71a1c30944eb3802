"""The feedback body (CDS Hooks 2.0 §Feedback) checked and turned into store items.

``{"feedback": [{card, outcome: accepted|overridden, acceptedSuggestions (required when
accepted, cds-fb-2), overrideReason {reason Coding, userComment} (reason or comment, cds-fb-3;
the sandbox sends the Coding without display), outcomeTimestamp}]}``.  Every problem is named
(``feedback[2].outcome``), none stops at the first.
"""

from __future__ import annotations

from typing import Any

from adapter.cdshooks.hooks import BadRequest
from adapter.issues import Issue
from adapter.store.feedback import FeedbackItem


def _bad(path: str, message: str) -> Issue:
    return Issue("error", "invalid", message, rule="cds-feedback", expression=(path,))


def _item(i: int, raw: Any, problems: list[Issue]) -> FeedbackItem | None:
    at = f"feedback[{i}]"
    if not isinstance(raw, dict):
        problems.append(_bad(at, "each feedback entry must be an object"))
        return None
    before = len(problems)
    card, outcome, stamp = raw.get("card"), raw.get("outcome"), raw.get("outcomeTimestamp")
    if not isinstance(card, str) or not card:
        problems.append(_bad(f"{at}.card", "card (the card's uuid) is required"))
    if outcome not in ("accepted", "overridden"):
        problems.append(_bad(f"{at}.outcome", "outcome must be 'accepted' or 'overridden'"))
    if not isinstance(stamp, str) or len(stamp) < 10:
        problems.append(_bad(f"{at}.outcomeTimestamp", "outcomeTimestamp (ISO 8601) is required"))
    accepted = raw.get("acceptedSuggestions") or []
    ids = (
        [s.get("id") for s in accepted if isinstance(s, dict)] if isinstance(accepted, list) else []
    )
    if not all(isinstance(x, str) for x in ids) or (
        isinstance(accepted, list) and len(ids) != len(accepted)
    ):
        problems.append(_bad(f"{at}.acceptedSuggestions", 'entries must be {"id": uuid}'))
    if outcome == "accepted" and not ids:
        problems.append(_bad(f"{at}.acceptedSuggestions", "required when outcome is accepted"))
    reason = raw.get("overrideReason")
    coding: dict[str, Any] = {}
    comment = None
    if reason is not None:
        if not isinstance(reason, dict):
            problems.append(_bad(f"{at}.overrideReason", "overrideReason must be an object"))
        else:
            given = reason.get("reason")
            coding = given if isinstance(given, dict) else {}
            comment = (
                reason.get("userComment") if isinstance(reason.get("userComment"), str) else None
            )
            if not coding.get("code") and comment is None:
                problems.append(_bad(f"{at}.overrideReason", "needs reason or userComment"))
    if len(problems) > before:
        return None
    return FeedbackItem(
        card=str(card),
        outcome=str(outcome),
        outcome_timestamp=str(stamp),
        accepted_suggestions=tuple(str(x) for x in ids),
        reason_system=str(coding["system"]) if coding.get("system") else None,
        reason_code=str(coding["code"]) if coding.get("code") else None,
        user_comment=comment,
    )


def parse_feedback(body: Any) -> list[FeedbackItem]:
    """The feedback entries of a request body; raises :class:`BadRequest` naming each problem."""
    entries = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BadRequest([_bad("feedback", 'the body must be {"feedback": [ ... ]}')])
    problems: list[Issue] = []
    items = [_item(i, raw, problems) for i, raw in enumerate(entries)]
    if problems:
        raise BadRequest(problems)
    return [i for i in items if i is not None]
