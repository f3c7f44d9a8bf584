"""WorkspaceEdits that turn one file's old text into its new text with the smallest single edit.

A new file becomes ``CreateFile`` + an insert when the client supports resource operations, else
a plain insert into the not-yet-existing document (clients create it on save).
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition


def _position(text: str, offset: int, codec: PositionCodec) -> types.Position:
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", line_start)
    line_text = text[line_start: len(text) if line_end < 0 else line_end + 1]
    return codec.position_to_client_units([""] * line + [line_text], ServerTextPosition(line, offset - line_start))


def minimal_edit(old: str, new: str, codec: PositionCodec | None = None) -> types.TextEdit | None:
    """One TextEdit replacing the differing middle of ``old`` with that of ``new`` (None if equal)."""
    if old == new:
        return None
    codec = codec or PositionCodec()
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    rng = types.Range(start=_position(old, start, codec), end=_position(old, end_old, codec))
    return types.TextEdit(range=rng, new_text=new[start:end_new])


def supports_create(capabilities: types.ClientCapabilities | None) -> bool:
    ws = capabilities.workspace if capabilities else None
    edit = ws.workspace_edit if ws else None
    return bool(edit and edit.document_changes and edit.resource_operations
                and types.ResourceOperationKind.Create in edit.resource_operations)


def file_edit(uri: str, old: str | None, new: str, *, version: int | None,
              capabilities: types.ClientCapabilities | None, codec: PositionCodec | None = None) -> types.WorkspaceEdit:
    """A WorkspaceEdit making ``uri`` hold ``new`` (``old`` None: the file does not exist yet)."""
    if old is None:
        insert = types.TextEdit(range=types.Range(start=types.Position(line=0, character=0),
                                                  end=types.Position(line=0, character=0)), new_text=new)
        if supports_create(capabilities):
            return types.WorkspaceEdit(document_changes=[
                types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True)),
                types.TextDocumentEdit(text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                                       edits=[insert]),
            ])
        return types.WorkspaceEdit(changes={uri: [insert]})
    edit = minimal_edit(old, new, codec)
    edits = [edit] if edit else []
    ws = capabilities.workspace if capabilities else None
    if ws and ws.workspace_edit and ws.workspace_edit.document_changes:
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})
