"""The one exception type that the command line turns into a clean message."""


class ScenelabError(Exception):
    """A problem the user can fix (bad flag, bad file, bad value).

    The CLI prints its message as ``scenelab: error: ...`` and exits with
    ``exit_code`` instead of showing a traceback.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
