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


def user_message(error: BaseException) -> str:
    """The message to print for ``error``.

    An exception raised in a DataLoader worker reaches the main process as the same type
    with the worker's whole traceback as its message; only the original message is kept.
    """
    text = str(error)
    if not (text.startswith("Caught ") and "\nOriginal Traceback" in text):
        return text
    name = f"{type(error).__module__}.{type(error).__qualname__}: "
    if name in text:
        return text.rsplit(name, 1)[1].strip()
    return text.strip().splitlines()[-1]
