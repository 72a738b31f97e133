"""The one error type a user sees: every problem a user can fix is an FtlabError whose message says what to do.

Library code raises these and never exits; `ftlab.stage.run` (every stage) and `ftlab.cli.main` are the two
places that turn one into a single `error: <message>` line on stderr and the exit status `code`."""


class FtlabError(Exception):
    """A problem the user can fix; the message names the file, key or flag and says what to do. `code` is the exit
    status of the process that stops on it (2: params.yaml, 130: interrupted, 1: anything else)."""

    code = 1

    def __init__(self, message: str = "", code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class TrainError(FtlabError):
    """A training run that cannot start or go on as its params and data say (the message names the key)."""
