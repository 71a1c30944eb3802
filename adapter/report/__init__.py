"""Pictures of the protocol logic (issue 20): the patient course page and the cohort report.

Two steps, kept apart so the data can be tested without a browser:
- data preparation (pure): :mod:`adapter.report.course` (what goes on one patient's course page)
  and :mod:`adapter.report.survival` (Kaplan-Meier / Aalen-Johansen figures per group, with
  lifelines); :mod:`adapter.report.record` gathers one patient's record from the mapped Bundles
  the item store keeps (the caller reads the store);
- rendering to one self-contained HTML file (inline CSS and SVG; no scripts, fonts or CDNs):
  :mod:`adapter.report.course_html` and :mod:`adapter.report.cohort_html`.

Depends on :mod:`adapter.protocol` and the core only (never on routes or the CLI).
"""
