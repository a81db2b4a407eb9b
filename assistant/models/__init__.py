"""The model manager: a catalog of speech and language models, pulled only when
the user asks, checked against their sha256, imported from the user's own files,
and selected in the settings.

API for the UI (call it from a worker thread; every call is blocking, none
touches Qt; errors are `ModelError` subclasses whose `str()` is fit to show):

    from assistant import models

    models.list_models(kind=None) -> list[ModelInfo]      # offline; catalog + installed
    models.get_model(id) -> ModelInfo
    token = models.CancelToken()                          # token.cancel() from the GUI thread
    models.pull(id, progress=fn, cancel=token) -> ModelInfo
        # fn(Progress) is called on the worker thread, about 10 times a second:
        # phase "download" | "verify" | "unpack" | "done", done/total bytes,
        # speed (B/s), eta_s. Cancel keeps the .partial: pulling again resumes.
    models.import_model(path, model_id=None, language=None) -> ModelInfo
    models.use(id) -> dict of the settings changed
    models.verify(id=None) -> list[VerifyResult]
    models.remove(id, force=False)
"""

from assistant.inventory.catalog import Catalog, CatalogEntry, load_catalog
from assistant.llm.cancel import CancelToken
from assistant.models.download import Progress
from assistant.models.errors import (
    CatalogError,
    ChecksumMismatch,
    DownloadError,
    InvalidModel,
    ModelBusy,
    ModelError,
    ModelInUse,
    NotEnoughSpace,
    NotInstalled,
    PullCancelled,
    UnknownModel,
    UnsafeArchive,
)
from assistant.models.manager import (
    ModelInfo,
    VerifyResult,
    get_model,
    import_model,
    list_models,
    models_in_use,
    pull,
    remove,
    use,
    verify,
)

__all__ = [
    "CancelToken", "Catalog", "CatalogEntry", "CatalogError", "ChecksumMismatch",
    "DownloadError", "InvalidModel", "ModelBusy", "ModelError", "ModelInUse", "ModelInfo",
    "NotEnoughSpace", "NotInstalled", "Progress", "PullCancelled", "UnknownModel",
    "UnsafeArchive", "VerifyResult", "get_model", "import_model", "list_models",
    "load_catalog", "models_in_use", "pull", "remove", "use", "verify",
]
