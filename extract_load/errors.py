"""Errors that reach the user as one line naming the thing to fix."""


class PipelineError(Exception):
    """Base class: its message is printed as-is by the CLI, without a traceback."""


class ConfigError(PipelineError):
    """The configuration file or the environment it reads is wrong."""


class SourceError(PipelineError):
    """A source system refused us or returned something we cannot load."""


class LoadError(PipelineError):
    """Landing data in the lakehouse failed."""


class SourceUnavailable(SourceError):
    """A source error that fails every table of the source alike (a rejected token, a spent
    daily quota): the runner does not try the source's other tables in that run."""
