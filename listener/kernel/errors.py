"""Expected failures of the listener; the CLI prints each as one line and exits non-zero."""


class AscoltoError(Exception):
    """Base class of failures a user can fix (bad config, missing credential, bad input file)."""


class ConfigError(AscoltoError):
    """The configuration file is unreadable or invalid; the message names the file and the key."""

    def __init__(self, path, key: str, problem: str):
        self.path, self.key, self.problem = path, key, problem
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")


class MissingCredential(AscoltoError):
    """A secret the configuration refers to is not in the environment (or too short to be safe)."""

    def __init__(self, variable: str, needed_for: str, problem: str = "is not set"):
        self.variable = variable
        super().__init__(f"environment variable {variable} {problem} (needed for {needed_for})")


class SourceRefused(AscoltoError):
    """The source's API refused us in a way only a person can fix (credentials, plan, query)."""


class SourceUnavailable(AscoltoError):
    """The source kept failing for passing reasons (5xx, network) after retries; try later."""


class RateLimited(AscoltoError):
    """The source's rate limit is reached. When collection may resume is ``resume_at`` (a time the
    API named, e.g. a reset header), or ``resume(now)``, worked out from the collect job's clock (a
    ``Retry-After`` in seconds, a daily quota's reset): sources never read the real clock themselves.
    Neither: the next run asks again."""

    def __init__(self, message: str, resume_at=None, *, resume=None):
        self.resume_at, self.resume = resume_at, resume
        super().__init__(message)

    def resume_time(self, now):
        """When the source may be asked again (a datetime), or None for the next run."""
        return self.resume(now) if self.resume is not None else self.resume_at


class BudgetSpent(AscoltoError):
    """A source may not read more for now: its configured budget is spent, or (X pay-per-use) the
    account's credits are. ``pause`` (a timedelta) holds the source back that long; ``notice`` is the
    one alert it raises: (subject, {"title", "body"})."""

    def __init__(self, message: str, *, pause=None, notice: tuple[str, dict] | None = None):
        self.pause, self.notice = pause, notice
        super().__init__(message)
