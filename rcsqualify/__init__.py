"""rcsqualify: qualify a French contact base before an RCS campaign on Orange's BotHub."""

__version__ = "0.1.0"
