"""Treatment and clinical-course sources (issue 5): one module per source kind.

``infusions`` (blinatumomab), ``intrathecal``, ``apheresis`` (CD3+ collection), ``lymphocytes``
(CD3+ infusions), ``measurements`` (weight, height, computed BSA) and ``events`` (diagnosis,
relapses, front-line end, protocol, risk group, HSCT, death, follow-up).  Shared row handling is in
:mod:`.common`, code tables in :mod:`.tables`, cross-file facts in :mod:`.context`.
"""
