"""What can go wrong in the model manager. Every message is fit to show a user as
it is (the CLI prints it, the UI puts it in a dialog); `code` is for programs."""

from __future__ import annotations


class ModelError(Exception):
    """Base of every model-manager error."""

    code = "model_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CatalogError(ModelError):
    """The catalog file cannot be read or an entry in it is malformed."""

    code = "catalog_invalid"


class UnknownModel(ModelError):
    """No model with this id in the catalog or among the installed ones."""

    code = "unknown_model"


class NotInstalled(ModelError):
    """The model is known but not installed (pull or import it first)."""

    code = "not_installed"


class DownloadError(ModelError):
    """The server refused, the connection failed or broke off. What was fetched
    is kept; pulling again resumes."""

    code = "download_failed"

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        """True when trying again may help (a dropped connection, a 5xx)."""


class ChecksumMismatch(ModelError):
    """The download is not the file the catalog describes. Nothing was installed."""

    code = "sha256_mismatch"


class NotEnoughSpace(ModelError):
    """Too little free disk space for the download or for unpacking it."""

    code = "disk_full"


class UnsafeArchive(ModelError):
    """The archive holds an entry that would land outside its folder (or a link)."""

    code = "unsafe_archive"


class PullCancelled(ModelError):
    """The caller cancelled the pull; what was fetched is kept for a resume."""

    code = "cancelled"


class ModelBusy(ModelError):
    """Another pull of the same model holds its lock."""

    code = "busy"


class InvalidModel(ModelError):
    """A file or folder is not a model Parley can load (import, or a pulled file)."""

    code = "invalid_model"


class ModelInUse(ModelError):
    """The model is the one the settings select; choose another one first."""

    code = "in_use"
