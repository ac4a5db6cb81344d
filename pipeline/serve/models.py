"""Request and response schemas of the HTTP API: what each request is validated with, and
its OpenAPI document at /openapi.json and /docs — one set of models for both.

The request models are built for each app (`request_models`), because their bounds come
from its configuration (api.max_top_k, api.max_batch_request, ask.max_question_chars). A
bound the schema states is also a rule of QA's; when pydantic finds it broken, `_rule` asks
QA for its verdict on the value, so the 422 carries QA's words whichever caught it first,
and QA still checks every request in the route. Requests are validated strictly: "5" is not
an integer, and unknown fields are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError

from store.errors import SQLITE_MAX_INT, SQLITE_MIN_INT, DocqaError

from pipeline.checks import NON_BLANK

if TYPE_CHECKING:
    from pipeline.config import ApiConfig
    from pipeline.qa import QA

_REQUEST = ConfigDict(extra="forbid", strict=True)


def _integral(value: Any) -> Any:
    """6.0 as 6: JSON Schema counts a number without a fractional part as an integer, and so
    does the API (strict validation would refuse it); "6" stays a string, and is refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A number a filter compares with: an integer SQLite can hold (the store refuses others by
# name; the schema says so first), or a float within the same range. The float's bounds are
# exclusive: pydantic turns an integer the int branch refused into a float, and -2**63 - 1
# would round to -2**63.
_Number = Union[
    Annotated[int, Field(ge=SQLITE_MIN_INT, le=SQLITE_MAX_INT), BeforeValidator(_integral)],
    Annotated[float, Field(gt=SQLITE_MIN_INT, lt=SQLITE_MAX_INT + 1)],
]
_Value = Union[_Number, bool, str, None, list[Any], dict[str, Any]]  # numbers first: their errors are reported first
_FieldName = Union[
    Literal["id", "content"],
    Annotated[
        str,
        Field(
            pattern=r'^meta\.[^"\x00]*$',
            description="A metadata key: meta.page_number, meta.file_path, meta.<your key> (without '\"' or NUL, which SQLite's JSON paths cannot name).",
        ),
    ],
]


class EqualityFilter(BaseModel):
    """Passages whose field equals (==) or differs from (!=) a value; a missing field is null."""

    model_config = _REQUEST

    field: _FieldName
    operator: Literal["==", "!="]
    value: _Value


class OrderingFilter(BaseModel):
    """Passages whose field compares with a number or an ISO 8601 date; nothing compares with null."""

    model_config = _REQUEST

    field: _FieldName
    operator: Literal[">", ">=", "<", "<="]
    value: Union[_Number, Annotated[str, Field(json_schema_extra={"format": "date-time"})], None] = Field(
        description="A number, an ISO 8601 date and time (compared as instants), or null."
    )


class MembershipFilter(BaseModel):
    """Passages whose field is (in) or is not (not in) one of the values."""

    model_config = _REQUEST

    field: _FieldName
    operator: Literal["in", "not in"]
    value: list[_Value]


class LogicalFilter(BaseModel):
    """All (AND), any (OR) or not all (NOT) of the conditions."""

    model_config = _REQUEST

    operator: Literal["AND", "OR", "NOT"]
    conditions: list[Filter]


_SHAPES = {
    **dict.fromkeys(("==", "!="), "equality"),
    **dict.fromkeys((">", ">=", "<", "<="), "ordering"),
    **dict.fromkeys(("in", "not in"), "membership"),
    **dict.fromkeys(("AND", "OR", "NOT"), "logical"),
}


def _shape(value: Any) -> str | None:
    """Which of the four shapes a filter has, by its operator (None: no shape, QA says why)."""
    operator = value.get("operator") if isinstance(value, dict) else getattr(value, "operator", None)
    return _SHAPES.get(operator) if isinstance(operator, str) else None


class _AnyOf:
    """Publishes a union as `anyOf`, the keyword schemathesis generates recursive unions from.

    Its `oneOf` (what pydantic writes for a discriminated union) makes schemathesis 4.32 fail
    on the nested conditions ("Cannot generate an array with 1 demanded elements"); the four
    shapes exclude each other by their operators, so the two say the same.
    """

    def __get_pydantic_json_schema__(self, core: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core)
        if "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
        return schema


# Haystack's filter syntax (https://docs.haystack.deepset.ai/docs/metadata-filtering), one of
# four shapes told apart by the operator: validation reports the errors of that shape only.
# The schema has no OpenAPI `discriminator`, which maps one value to one schema: schemathesis
# 4.32 reads a mapping of several values to one schema as that schema taking only the last
# of them, and then calls valid filters invalid.
Filter = Annotated[
    Union[
        Annotated[EqualityFilter, Tag("equality")],
        Annotated[OrderingFilter, Tag("ordering")],
        Annotated[MembershipFilter, Tag("membership")],
        Annotated[LogicalFilter, Tag("logical")],
    ],
    Discriminator(_shape),
    _AnyOf(),
]
LogicalFilter.model_rebuild()


def _rule(check: Callable[[Any], object], applies: Callable[[Any], bool]) -> WrapValidator:
    """Validation that hands a value pydantic refused to `check` (QA's rule), when `applies` to it.

    When QA refuses it too, the error is QA's message (type "docqa"); otherwise pydantic's
    stands (a value of the wrong type, or a rule only the schema states). A part that QA has
    already refused (one question of a batch) keeps its own error and place.
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            if applies(value) and not any(error["type"] == "docqa" for error in exc.errors()):
                try:
                    check(value)
                except DocqaError as refused:
                    raise PydanticCustomError("docqa", "{message}", {"message": str(refused)}) from None
            raise

    return WrapValidator(validate)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True)
class RequestModels:
    """The request bodies of one app, with its configuration's bounds."""

    ask: type[BaseModel]
    batch: type[BaseModel]

    def json_schemas(self) -> dict[str, Any]:
        """The JSON schemas of the request bodies and the models they use, by name, as pydantic
        writes them (OpenAPI's components/schemas)."""
        _, schemas = models_json_schema([(self.ask, "validation"), (self.batch, "validation")], ref_template="#/components/schemas/{model}")
        definitions: dict[str, Any] = schemas["$defs"]
        return definitions


def request_models(qa: QA, api: ApiConfig) -> RequestModels:
    """AskRequest and BatchRequest for an app of `qa` with `api`'s ceilings."""
    max_chars, max_top_k, most = qa.config.ask.max_question_chars, api.max_top_k, api.max_batch_request

    Question = Annotated[
        str,
        Field(min_length=1, max_length=max_chars, pattern=NON_BLANK),
        _rule(qa.check_question, lambda v: isinstance(v, str)),
    ]
    TopK = Annotated[
        int, Field(ge=1, le=max_top_k), _rule(lambda k: qa.options(top_k=k, max_top_k=max_top_k), _is_int), BeforeValidator(_integral)
    ]
    Filters = Annotated[Union[Filter, None], _rule(lambda f: qa.options(filters=f), lambda v: True)]  # QA reads any JSON
    Questions = Annotated[list[Question], Field(min_length=1, max_length=most), _rule(lambda qs: qa.check_questions(qs, most=most), _is_str_list)]
    # (Annotated types are named here, outside the classes: with postponed annotations,
    # pydantic evaluates a class's annotations as strings, where the checks' closures would
    # not see `qa`.)

    class AskRequest(BaseModel):
        model_config = _REQUEST

        question: Question = Field(description=f"The question, in words: not blank, at most {max_chars} characters (ask.max_question_chars).")
        top_k: Union[TopK, None] = Field(default=None, description=f"Answers to return, 1 to {max_top_k} (api.max_top_k); default: ask.top_k.")
        filters: Filters = Field(default=None, description="Haystack filters on passage fields, e.g. {\"field\": \"meta.page_number\", \"operator\": \"==\", \"value\": 2}.")
        files: Union[list[str], None] = Field(
            default=None,
            description="Glob patterns: only search files whose path matches one; a relative pattern is taken from the server's "
            "current folder, as `docqa ask --file` takes it from yours ('examples/*', 'reports/' for every file under it); "
            "'*' also matches '/'. Patterns that match no indexed file: 404.",
        )

    class BatchRequest(BaseModel):
        model_config = _REQUEST

        questions: Questions = Field(description=f"1 to {most} questions (api.max_batch_request), each as in /ask.")
        top_k: Union[TopK, None] = Field(default=None, description=f"Answers per question, 1 to {max_top_k} (api.max_top_k); default: ask.top_k.")

    return RequestModels(AskRequest, BatchRequest)


_PAGE = "The page of the answer's first character; null for a file without pages (text files)."
_PAGES = "Every page the answer lies on, first to last: [2], or [2, 3] when it crosses a page break; null without pages."


class SourceModel(BaseModel):
    file: str | None
    page: int | None = Field(description=_PAGE)
    pages: list[int] | None = Field(description=_PAGES)
    passage_id: str
    start: int = Field(description="Start of the answer in the passage text (where page breaks are form feeds).")
    end: int = Field(description="End of the answer in the passage text.")
    context: str = Field(description="The passage text around the answer, page breaks shown as spaces (one character for one).")
    reader_score: float = Field(description="The reader's raw score of the span (start + end logit): not a probability; compare within one question.")
    retrieval_score: float | None = Field(description="The passage's BM25 score; null without retrieval.")


class AnswerModel(BaseModel):
    answer: str
    score: float = Field(description="The estimated probability that the answer is right; the answers of one question are exclusive, their scores sum to at most 1 (the rest: none of them).")
    file: str | None
    page: int | None = Field(description=_PAGE)
    pages: list[int] | None = Field(description=_PAGES)
    passage_id: str
    start: int
    end: int
    context: str
    sources: list[SourceModel] = Field(description="Every place the answer was found, best first; the fields above are the first's.")


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
    duplicate: bool = Field(description="True when the content was indexed already: this is the document that holds it, and nothing was stored.")
    message: str | None = Field(description="For a duplicate: which document holds the content.")


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
