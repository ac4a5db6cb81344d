"""Request and response schemas of the HTTP API (they are its OpenAPI document at /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question, in words.")
    top_k: int | None = Field(default=None, description="Answers to return (default: ask.top_k).")
    filters: dict[str, Any] | None = Field(default=None, description="Haystack filters on passage fields, e.g. meta.page_number.")
    files: list[str] | None = Field(default=None, description="Glob patterns: only search files whose path matches one.")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[str]
    top_k: int | None = None


class SourceModel(BaseModel):
    file: str | None
    page: int | None
    passage_id: str
    start: int = Field(description="Start of the answer in the passage text.")
    end: int
    context: str
    probability: float
    reader_score: float
    retrieval_score: float | None


class AnswerModel(BaseModel):
    answer: str
    score: float
    probability: float
    file: str | None
    page: int | None
    passage_id: str
    start: int
    end: int
    context: str
    sources: list[SourceModel]


class AskResponse(BaseModel):
    question: str
    found: bool
    answers: list[AnswerModel]
    candidates: list[AnswerModel] | None = Field(default=None, description="When no answer passed ask.min_score: the best candidates.")
    seconds: float


class BatchResponse(BaseModel):
    results: list[AskResponse]


class FileModel(BaseModel):
    id: int
    path: str
    status: str
    error: str | None
    pages: int | None
    passages: int
    size: int | None
    sha256: str | None
    indexed_at: str


class PassageModel(BaseModel):
    id: str
    text: str
    page: int | None
    start: int | None


class DocumentDetail(FileModel):
    passage_list: list[PassageModel]


class DocumentList(BaseModel):
    total: int
    offset: int
    limit: int
    documents: list[FileModel]


class UploadResponse(BaseModel):
    id: int
    file: str
    passages: int


class StatsModel(BaseModel):
    files: int
    failed: int
    passages: int
    pages: int
    size_bytes: int


class Health(BaseModel):
    status: str


class ErrorDetail(BaseModel):
    field: str | None
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
    request_id: str
