"""BotHub's defaults, written once: the option declarations (``settings.BothubOptions``)
and the providers' constructors (``capability/bothub.py``, ``bothub_bulk.py``) both read
them (issue #24: they were written in each). A module with no imports, so that declaring
the options at start-up loads no HTTP stack."""

#: the capability a bot's answer must list to count as reachable (``--require-feature``)
FEATURE = "chatBotCommunication"
#: the header carrying the GSMA JWT (``--bot-jwt-header``; Orange does not document it)
JWT_HEADER = "X-Bot-Authorization"
#: more numbers than this asked one by one: a warning (``--single-warn``)
SINGLE_WARN = 1000
#: the first wait between bulk job polls, seconds (``--poll-interval``)
POLL_INITIAL = 2.0
