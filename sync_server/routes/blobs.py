"""/blobs/{sha256}: content-addressed attachments (PUT, GET, HEAD).

Any team member may upload (the upload comes before the event that names it); only members
of a team whose events reference a blob may read it, and to anyone else it does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from sync_server.deps import StateDep, TeamMember
from sync_server.schemas.common import ErrorPublic
from sync_server.schemas.misc import BlobPublic
from sync_server.services.blobs import readable, receive_blob

router = APIRouter(tags=["blobs"])
Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="lower-case hex sha256")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}, 404: {"model": ErrorPublic},
}
_NOT_FOUND = HTTPException(status_code=404, detail="no such blob")


@router.put("/blobs/{sha256}", response_model=BlobPublic, responses={
    **_ERRORS, 400: {"model": ErrorPublic}, 413: {"model": ErrorPublic},
}, openapi_extra={"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def put_blob(sha256: Sha, request: Request, user: TeamMember, state: StateDep) -> BlobPublic:
    size = await receive_blob(state.blob_store, sha256, request.stream(),
                              state.settings.blob_max_bytes)
    return BlobPublic(sha256=sha256, size=size)


@router.get("/blobs/{sha256}", response_class=Response, responses={
    **_ERRORS, 200: {"content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}},
})
def get_blob(sha256: Sha, user: TeamMember, state: StateDep) -> Response:
    if not readable(state.engine, sha256, user.team_ids):
        raise _NOT_FOUND
    headers = {"ETag": f'"{sha256}"', "Cache-Control": "private, max-age=31536000, immutable"}
    path = state.blob_store.local_path(sha256)
    if path is not None:  # streamed from disk, never read whole into memory
        return FileResponse(path, media_type="application/octet-stream", headers=headers)
    size = state.blob_store.size(sha256)
    if size is None:
        raise _NOT_FOUND
    return StreamingResponse(state.blob_store.chunks(sha256), media_type="application/octet-stream",
                             headers={**headers, "Content-Length": str(size)})


@router.head("/blobs/{sha256}", response_class=Response, responses={
    **_ERRORS, 200: {"description": "the blob exists (no body)", "headers": {
        "Content-Length": {"schema": {"type": "integer"}, "description": "size in bytes"}}},
})
def head_blob(sha256: Sha, user: TeamMember, state: StateDep) -> Response:
    if not readable(state.engine, sha256, user.team_ids):
        raise _NOT_FOUND
    size = state.blob_store.size(sha256)
    if size is None:
        raise _NOT_FOUND
    return Response(headers={"Content-Length": str(size), "ETag": f'"{sha256}"'},
                    media_type="application/octet-stream")
