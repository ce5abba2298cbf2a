import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BlobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOB_KIND_UNSPECIFIED: _ClassVar[BlobKind]
    BLOB_KIND_MODEL: _ClassVar[BlobKind]
    BLOB_KIND_DATASET: _ClassVar[BlobKind]

class DatasetFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_FORMAT_UNSPECIFIED: _ClassVar[DatasetFormat]
    DATASET_FORMAT_TAR: _ClassVar[DatasetFormat]
    DATASET_FORMAT_ZIP: _ClassVar[DatasetFormat]
    DATASET_FORMAT_NPZ: _ClassVar[DatasetFormat]
    DATASET_FORMAT_NPY: _ClassVar[DatasetFormat]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class ReportFile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FILE_UNSPECIFIED: _ClassVar[ReportFile]
    REPORT_FILE_JSON: _ClassVar[ReportFile]
    REPORT_FILE_NEURONS_CSV: _ClassVar[ReportFile]
    REPORT_FILE_LAYERS_CSV: _ClassVar[ReportFile]
    REPORT_FILE_STABILITY_CSV: _ClassVar[ReportFile]
BLOB_KIND_UNSPECIFIED: BlobKind
BLOB_KIND_MODEL: BlobKind
BLOB_KIND_DATASET: BlobKind
DATASET_FORMAT_UNSPECIFIED: DatasetFormat
DATASET_FORMAT_TAR: DatasetFormat
DATASET_FORMAT_ZIP: DatasetFormat
DATASET_FORMAT_NPZ: DatasetFormat
DATASET_FORMAT_NPY: DatasetFormat
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
REPORT_FILE_UNSPECIFIED: ReportFile
REPORT_FILE_JSON: ReportFile
REPORT_FILE_NEURONS_CSV: ReportFile
REPORT_FILE_LAYERS_CSV: ReportFile
REPORT_FILE_STABILITY_CSV: ReportFile

class UploadHeader(_message.Message):
    __slots__ = ("size_bytes", "sha256", "format")
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    size_bytes: int
    sha256: str
    format: DatasetFormat
    def __init__(self, size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., format: _Optional[_Union[DatasetFormat, str]] = ...) -> None: ...

class UploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class BlobInfo(_message.Message):
    __slots__ = ("kind", "sha256", "size_bytes", "already_stored", "format", "files")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_STORED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    kind: BlobKind
    sha256: str
    size_bytes: int
    already_stored: bool
    format: DatasetFormat
    files: int
    def __init__(self, kind: _Optional[_Union[BlobKind, str]] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., already_stored: _Optional[bool] = ..., format: _Optional[_Union[DatasetFormat, str]] = ..., files: _Optional[int] = ...) -> None: ...

class GetBlobRequest(_message.Message):
    __slots__ = ("kind", "sha256")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    kind: BlobKind
    sha256: str
    def __init__(self, kind: _Optional[_Union[BlobKind, str]] = ..., sha256: _Optional[str] = ...) -> None: ...

class ServerPath(_message.Message):
    __slots__ = ("root", "path")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    root: str
    path: str
    def __init__(self, root: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class DataSource(_message.Message):
    __slots__ = ("dataset_sha256", "server_path")
    DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    SERVER_PATH_FIELD_NUMBER: _ClassVar[int]
    dataset_sha256: str
    server_path: ServerPath
    def __init__(self, dataset_sha256: _Optional[str] = ..., server_path: _Optional[_Union[ServerPath, _Mapping]] = ...) -> None: ...

class ImageSize(_message.Message):
    __slots__ = ("height", "width")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    def __init__(self, height: _Optional[int] = ..., width: _Optional[int] = ...) -> None: ...

class AnalysisParameters(_message.Message):
    __slots__ = ("classes", "tau", "min_confidence", "max_images", "layers", "fault", "provider", "seed", "memory_budget_bytes", "noise_floor", "crosscheck_neurons", "layout", "output", "preset", "size", "mean", "std", "channel_order", "resize")
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    TAU_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGES_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    NOISE_FLOOR_FIELD_NUMBER: _ClassVar[int]
    CROSSCHECK_NEURONS_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    classes: _containers.RepeatedScalarFieldContainer[int]
    tau: float
    min_confidence: float
    max_images: int
    layers: _containers.RepeatedScalarFieldContainer[str]
    fault: str
    provider: str
    seed: int
    memory_budget_bytes: int
    noise_floor: float
    crosscheck_neurons: int
    layout: str
    output: str
    preset: str
    size: ImageSize
    mean: _containers.RepeatedScalarFieldContainer[float]
    std: _containers.RepeatedScalarFieldContainer[float]
    channel_order: str
    resize: str
    def __init__(self, classes: _Optional[_Iterable[int]] = ..., tau: _Optional[float] = ..., min_confidence: _Optional[float] = ..., max_images: _Optional[int] = ..., layers: _Optional[_Iterable[str]] = ..., fault: _Optional[str] = ..., provider: _Optional[str] = ..., seed: _Optional[int] = ..., memory_budget_bytes: _Optional[int] = ..., noise_floor: _Optional[float] = ..., crosscheck_neurons: _Optional[int] = ..., layout: _Optional[str] = ..., output: _Optional[str] = ..., preset: _Optional[str] = ..., size: _Optional[_Union[ImageSize, _Mapping]] = ..., mean: _Optional[_Iterable[float]] = ..., std: _Optional[_Iterable[float]] = ..., channel_order: _Optional[str] = ..., resize: _Optional[str] = ...) -> None: ...

class StartAnalysisRequest(_message.Message):
    __slots__ = ("model_sha256", "data", "parameters", "model_label", "data_label")
    MODEL_SHA256_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MODEL_LABEL_FIELD_NUMBER: _ClassVar[int]
    DATA_LABEL_FIELD_NUMBER: _ClassVar[int]
    model_sha256: str
    data: DataSource
    parameters: AnalysisParameters
    model_label: str
    data_label: str
    def __init__(self, model_sha256: _Optional[str] = ..., data: _Optional[_Union[DataSource, _Mapping]] = ..., parameters: _Optional[_Union[AnalysisParameters, _Mapping]] = ..., model_label: _Optional[str] = ..., data_label: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "request", "created", "started", "finished", "layer", "neurons_done", "neurons_total", "eta_s", "attempt", "error", "crosscheck_passed")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    NEURONS_DONE_FIELD_NUMBER: _ClassVar[int]
    NEURONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CROSSCHECK_PASSED_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    request: StartAnalysisRequest
    created: _timestamp_pb2.Timestamp
    started: _timestamp_pb2.Timestamp
    finished: _timestamp_pb2.Timestamp
    layer: str
    neurons_done: int
    neurons_total: int
    eta_s: float
    attempt: int
    error: JobError
    crosscheck_passed: bool
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., request: _Optional[_Union[StartAnalysisRequest, _Mapping]] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., layer: _Optional[str] = ..., neurons_done: _Optional[int] = ..., neurons_total: _Optional[int] = ..., eta_s: _Optional[float] = ..., attempt: _Optional[int] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., crosscheck_passed: _Optional[bool] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[JobState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[JobState, str]]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("job_id", "file")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    file: ReportFile
    def __init__(self, job_id: _Optional[str] = ..., file: _Optional[_Union[ReportFile, str]] = ...) -> None: ...

class ReportChunk(_message.Message):
    __slots__ = ("data", "filename", "size_bytes", "sha256")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    filename: str
    size_bytes: int
    sha256: str
    def __init__(self, data: _Optional[bytes] = ..., filename: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...
