"""Find every place a YAML file references an image repository, and plan the edits.

Targets: ``image:`` strings (containers of every pod-bearing kind, and any other ``image:``
key), Helm-style ``registry``/``repository``/``tag``/``digest`` siblings (values files,
HelmRelease ``spec.values``, Argo CD ``valuesObject``), Argo CD ``helm.parameters``
(``image.repository`` + ``image.tag``), and Kustomize ``images:`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from gitops_actions import imageref
from gitops_actions.edit.source import (
    _TEMPLATE,
    Source,
    Splice,
    mapping_get,
    mappings,
    render_scalar,
    scalar,
)
from gitops_actions.errors import InputError, UsageError
from gitops_actions.imageref import ImageRef

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_STR = yaml.ScalarNode("tag:yaml.org,2002:str", "", style="")  # how a new value is written


@dataclass(frozen=True)
class Hit:
    """One reference to the image: where, what it was, what it becomes, and the splices."""

    path: str
    line: int
    what: str
    old: ImageRef
    new: ImageRef
    splices: tuple[Splice, ...] = ()
    notes: tuple[str, ...] = field(default=())
    kept: str = ""  # why this place is left as it is, when not because it is up to date


def _same_repo(text: str | None, target: ImageRef) -> bool:
    if not text:
        return False
    try:
        return imageref.normalize(text) == target.name
    except ValueError:
        return False


def _resource(doc: yaml.Node) -> str:
    kind = scalar(mapping_get(doc, "kind"))
    name = scalar(mapping_get(mapping_get(doc, "metadata") or doc, "name"))
    return f"{kind}/{name} " if kind and name else ""


class Planner:
    """Plans the edits that point one file's references to ``target`` at ``target``."""

    def __init__(self, source: Source, target: ImageRef) -> None:
        if not (target.tag or target.digest):
            raise UsageError(f"{target}: give a tag, a digest or both")
        self.src = source
        self.target = target
        self.hits: list[Hit] = []

    def plan(self, *, kustomization: bool = False) -> list[Hit]:
        for doc in self.src.docs:
            label = _resource(doc)
            for mapping in mappings(doc):
                self._image_string(mapping, label)
                self._helm_values(mapping, label)
                self._helm_parameters(mapping, label)
            if kustomization:
                self._kustomize_images(doc)
        return self.hits

    # -- image: repo:tag@digest ---------------------------------------------------------------
    def _image_string(self, mapping: yaml.MappingNode, label: str) -> None:
        node = mapping_get(mapping, "image")
        value = scalar(node)
        if node is None or value is None:
            return
        try:
            old = imageref.parse(value)
        except UsageError:
            if _TEMPLATE.search(value) and self.target.repository in value:
                self.src.replace_scalar(node, value, "image")  # raises: built by a template
            return
        if old.name != self.target.name:
            return
        new = old.with_(tag=self.target.tag, digest=self.target.digest)
        name = scalar(mapping_get(mapping, "name"))
        what = f"{label}image" + (f" ({name})" if name else "")
        notes = []
        if old.digest and not new.digest:
            notes.append(f"{what}: digest pin removed (the new reference has no digest)")
        self._hit(what, node, old, new, [(node, str(new))], notes)

    # -- Helm values: registry / repository / tag / digest ----------------------------------
    def _helm_values(self, mapping: yaml.MappingNode, label: str) -> None:
        repository = scalar(mapping_get(mapping, "repository"))
        registry = scalar(mapping_get(mapping, "registry"))
        full = f"{registry}/{repository}" if registry and repository else repository
        if not _same_repo(full, self.target):
            return
        tag_node, digest_node = mapping_get(mapping, "tag"), mapping_get(mapping, "digest")
        self._split_fields(f"{label}values {full}", mapping, str(repository), tag_node, digest_node)

    def _split_fields(
        self,
        what: str,
        anchor: yaml.Node,
        repository: str,
        tag_node: yaml.Node | None,
        digest_node: yaml.Node | None,
    ) -> None:
        old_tag, old_digest = scalar(tag_node), scalar(digest_node) or None
        if tag_node is None and digest_node is None:
            return
        edits: list[tuple[yaml.Node, str]] = []
        notes: list[str] = []
        new_tag, new_digest = old_tag, old_digest
        pinned = old_tag is not None and "@sha256:" in old_tag
        if pinned and old_tag is not None:  # the `tag: 1.2.3@sha256:...` convention
            old_tag, _, old_digest = old_tag.partition("@")
            new_tag = self.target.tag or old_tag
            new_digest = self.target.digest
            if not new_digest:
                notes.append(f"{what}: digest pin removed (the new reference has no digest)")
            edits.append((tag_node, f"{new_tag}@{new_digest}" if new_digest else str(new_tag)))  # type: ignore[arg-type]
        else:
            if tag_node is not None and self.target.tag:
                new_tag = self.target.tag
                edits.append((tag_node, new_tag))
            if digest_node is not None and (self.target.digest or old_digest):
                new_digest = self.target.digest
                edits.append((digest_node, new_digest or ""))
                if not new_digest:
                    notes.append(f"{what}: digest pin cleared (the new reference has no digest)")
            elif digest_node is None and self.target.digest:
                notes.append(
                    f"warning: {self.src.path}:{self.src.line_of(tag_node or anchor)} {what}: "
                    f"no digest: field, so {self.target.digest[:19]}... is not written "
                    "(add a digest: field next to tag: to pin it)"
                )
        old = ImageRef(repository, old_tag or None, old_digest)
        new = ImageRef(repository, new_tag or None, new_digest)
        self._hit(what, tag_node or digest_node or anchor, old, new, edits, notes)

    # -- Argo CD helm.parameters: [{name: image.repository, value: ...}, ...] ---------------
    def _helm_parameters(self, mapping: yaml.MappingNode, label: str) -> None:
        params = mapping_get(mapping, "parameters")
        if not isinstance(params, yaml.SequenceNode):
            return
        values: dict[str, yaml.Node] = {}
        for entry in params.value:
            name, value = scalar(mapping_get(entry, "name")), mapping_get(entry, "value")
            if name is not None and value is not None:
                values[name] = value
        for name, node in values.items():
            if not (name == "repository" or name.endswith(".repository")):
                continue
            prefix = name[: -len("repository")]
            registry = scalar(values.get(prefix + "registry"))
            repository = scalar(node)
            full = f"{registry}/{repository}" if registry and repository else repository
            if _same_repo(full, self.target):
                self._split_fields(
                    f"{label}helm.parameters {prefix}tag",
                    node,
                    str(repository),
                    values.get(prefix + "tag"),
                    values.get(prefix + "digest"),
                )

    # -- Kustomize images: [{name, newName, newTag, digest}] ---------------------------------
    def _kustomize_images(self, doc: yaml.Node) -> None:
        images = mapping_get(doc, "images")
        if not isinstance(images, yaml.SequenceNode):
            return
        for entry in images.value:
            name = scalar(mapping_get(entry, "newName")) or scalar(mapping_get(entry, "name"))
            if not isinstance(entry, yaml.MappingNode) or not _same_repo(name, self.target):
                continue
            tag_node, digest_node = mapping_get(entry, "newTag"), mapping_get(entry, "digest")
            old = ImageRef(str(name), scalar(tag_node), scalar(digest_node) or None)
            new = old.with_(tag=self.target.tag or old.tag, digest=self.target.digest)
            what = f"kustomization images {name}"
            fields = {"newTag": new.tag, "digest": new.digest}
            self._record(what, entry, old, new, self.set_fields(entry, fields, what), [])

    def set_fields(
        self, entry: yaml.MappingNode, fields: dict[str, str | None], what: str
    ) -> list[Splice]:
        """Splices that make a block mapping's ``fields`` hold these values: replaced in
        place, added after its last pair, removed when None (a line swapped for another
        when one goes and one comes)."""
        inserts: list[tuple[str, str]] = []
        deletes: list[Splice] = []
        splices: list[Splice] = []
        for key, value in fields.items():
            node = mapping_get(entry, key)
            if value == scalar(node) or (value is None and node is None):
                continue
            if node is None:
                inserts.append((key, str(value)))
            elif value is None:
                deletes.append(self._delete_pair(entry, key))
            else:
                splices.append(self.src.replace_scalar(node, value, f"{what} {key}"))
        if inserts and deletes:  # the new pairs take the place of a removed one
            gone = deletes.pop()
            text = self.src.text[gone.start : gone.end]
            indent = text[: len(text) - len(text.lstrip())]
            ending = text[len(text.rstrip("\r\n")) :]
            lines = [f"{indent}{k}: {render_scalar(_STR, v)}" for k, v in inserts]
            pairs = self.src.newline.join(lines) + ending
            splices.append(Splice(gone.start, gone.end, pairs, gone.line, "set fields"))
            inserts = []
        if inserts:
            splices.append(self._insert_pairs(entry, inserts))
        return splices + deletes

    def _insert_pairs(self, entry: yaml.MappingNode, pairs: list[tuple[str, str]]) -> Splice:
        line = self.src.line_of(entry)
        last_value = entry.value[-1][1]
        keys = ", ".join(k for k, _ in pairs)
        if entry.flow_style or not isinstance(last_value, yaml.ScalarNode):
            raise InputError(
                f"cannot add {keys} to this entry: give it the field(s) first",
                path=self.src.path,
                line=line,
            )
        text = self.src.text
        end = text.find("\n", last_value.end_mark.index)
        end = len(text) if end < 0 else end - (1 if text[end - 1 : end] == "\r" else 0)
        indent = " " * entry.value[0][0].start_mark.column
        new = "".join(f"{self.src.newline}{indent}{k}: {render_scalar(_STR, v)}" for k, v in pairs)
        return Splice(end, end, new, line, f"insert {keys}")

    def _delete_pair(self, entry: yaml.MappingNode, key: str) -> Splice:
        text = self.src.text
        for k, v in entry.value:
            if k.value != key:
                continue
            start = text.rfind("\n", 0, k.start_mark.index) + 1
            if entry.flow_style or text[start : k.start_mark.index].strip():
                break
            end = text.find("\n", v.end_mark.index)
            end = len(text) if end < 0 else end + 1
            return Splice(start, end, "", self.src.line_of(k), f"remove {key}", v.value, "")
        raise InputError(
            f"cannot remove the stale {key} of this entry",
            path=self.src.path,
            line=self.src.line_of(entry),
        )

    # -- bookkeeping -------------------------------------------------------------------------
    def _hit(
        self,
        what: str,
        node: yaml.Node,
        old: ImageRef,
        new: ImageRef,
        edits: list[tuple[yaml.Node, str]],
        notes: list[str] | None = None,
    ) -> None:
        splices = [
            self.src.replace_scalar(target, value, what)
            for target, value in edits
            if scalar(target) != value
        ]
        self._record(what, node, old, new, splices, notes or [])

    def _record(
        self,
        what: str,
        node: yaml.Node,
        old: ImageRef,
        new: ImageRef,
        splices: list[Splice],
        notes: list[str],
        kept: str = "",
    ) -> None:
        line = self.src.line_of(node)
        self.hits.append(
            Hit(self.src.path, line, what, old, new, tuple(splices), tuple(notes), kept)
        )
