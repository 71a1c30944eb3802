"""Generated ORU^R01 messages (blood counts) for intake, MLLP and delivery tests."""

from __future__ import annotations


def oru(number: int, patient: str, control: str | None = None) -> bytes:
    """One ORU^R01 with two OBX (hemoglobin, platelets) of specimen ``PB-<number>``."""
    t = f"202404{1 + number % 28:02d}1000+0300"
    segments = [
        f"MSH|^~\\&|LIS|BALLHOSP|BALLFHIR|BALLFHIR|{t}||ORU^R01^ORU_R01|"
        f"{control or f'MSG{number:06d}'}|P|2.5.1",
        f"PID|1||{patient}^^^BALLHOSP^MR",
        f"ORC|RE||FIL{number:06d}^LIS",
        f"OBR|1||FIL{number:06d}^LIS|CBC^Blood count^99BALL|||{t}|||||||||||||||{t}||LAB|F",
        f"OBX|1|NM|718-7^Hemoglobin^LN||{9 + number % 5}.5|g/dL^g/dL^UCUM|||||F|||{t}",
        f"OBX|2|NM|PLT^Platelets^99BALL||{50 + number}|10*9/L^10*9/L^UCUM|||||F|||{t}",
        f"SPM|1|^PB-{number:06d}&LIS||BLDV^Blood venous^HL70487|||||||||||||{t}",
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def rejected_oru(number: int) -> bytes:
    """An ORU^R01 whose PID has no identifier: the mapping rejects the whole message."""
    return oru(number, "").replace(b"PID|1||^^^BALLHOSP^MR", b"PID|1||")
