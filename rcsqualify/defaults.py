"""The defaults of ``check``'s options that code below the settings also needs, written
once (issue #24: each was written in ``settings.py`` and again as a function's default
in the module that uses it, and the copies could drift apart).

``settings.py`` declares the options with these values; a function whose parameter means
the same thing takes its default from here (or, better, has no default: its caller holds
the settings). ``tests/test_defaults.py`` fails on a copy of one of these values written
as a literal elsewhere in the package. BotHub's own defaults are in
``capability/defaults.py``, the HTTP ones in ``remote/policy.py``.

A module with no imports, at the bottom of the layers: reading a default loads nothing.
"""

#: Orange's ARCEP code: the numbers BotHub answers for
ORANGE = "FRTE"
#: ``--operator``: the target operator, an ARCEP code
OPERATOR = ORANGE
#: ``--threshold``: the gate's threshold on the error ratio, a share (Orange's 15 %)
THRESHOLD = 0.15
#: ``--gate``: how unchecked messages count, and every mode there is
GATE = "decide"
GATE_MODES = ("decide", "known", "upper")
#: ``--lang``: the languages of the HTML and Markdown reports
LANGS = ("fr", "en")
#: ``--warn-at``: the error ratio whose crossing (either way) alerts, a share
WARN_AT = 0.12
#: ``--notify-format``: the webhook payloads (auto: chosen by the webhook's host)
NOTIFY_FORMATS = ("auto", "slack", "teams", "json")
#: ``--send-rate``: the campaign's send rate, messages per second (the reports' estimate)
SEND_RATE = 30.0
#: ``--confidence``: the confidence of ``--sample``'s bound (and of a batchGet estimate)
CONFIDENCE = 0.95
#: ``--sample-max``: numbers ``--sample auto`` draws at most (issue #22: a few minutes of
#: a 30/s quota; the planner says how often that decides)
SAMPLE_MAX = 2000
#: ``--portability-max-unmapped``: the share of an extract's operator values that may map
#: to no operator before the run stops (exit 2)
PORTABILITY_MAX_UNMAPPED = 0.01
#: ``--portability-max-age``: days after which an extract's newest port date warns
PORTABILITY_MAX_AGE_DAYS = 30
#: how long a cached answer is trusted, days: a capability "yes", any other capability
#: answer, an operator look-up (MNP)
TTL_POSITIVE_DAYS = 90.0
TTL_NEGATIVE_DAYS = 60.0
TTL_OPERATOR_DAYS = 7.0
