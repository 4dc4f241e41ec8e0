"""The root fields a mutation document runs, fragments included.

`mutation { ... on Mutation { saveApplicationDraft(...) } }` and `mutation { ...F }` run the
same root field as the plain form; an extension that looked only at the operation's top-level
`FieldNode`s saw none and let the write through unchecked (review 3, finding 3). Inline
fragments and fragment spreads are expanded here, at any depth, and `@skip`/`@include` are
ignored, so a check errs towards seeing a field that does not run (fail closed).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)


def mutation_root_fields(
    document: DocumentNode | None, operation_name: str | None = None
) -> list[FieldNode]:
    """Every root field of the document's mutation operations (only the one named
    `operation_name` when given), in document order."""
    if document is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields: list[FieldNode] = []
    for definition in document.definitions:
        if (
            isinstance(definition, OperationDefinitionNode)
            and definition.operation is OperationType.MUTATION
            and (
                operation_name is None or getattr(definition.name, "value", None) == operation_name
            )
        ):
            _collect(definition.selection_set, fragments, set(), fields)
    return fields


def _collect(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
    out: list[FieldNode],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, visited, out)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visited:  # validation forbids cycles
                visited.add(name)
                _collect(fragment.selection_set, fragments, visited, out)
