"""The JSON Schema validator the spec compiles: unions as the spec means them, clear errors.

``oneOf`` and ``anyOf`` both mean "at least one branch", narrowed first by a ``discriminator``'s
tag (see ``openapi_spec`` for why); a union no branch accepts is explained by the branch that came
closest. This module imports ``jsonschema``, so it is imported only once a spec is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from .openapi_spec import brief, tag_values


def union_aware_validator(document: Mapping[str, Any]) -> Any:
    """A Draft 2020-12 validator class whose ``oneOf``/``anyOf`` follow the module docstring."""
    # Branches are dicts inside the long-lived document, so their ids are stable keys.
    tag_cache: dict[tuple[int, str], frozenset[str] | None] = {}

    def tags(branch: Any, prop: str) -> frozenset[str] | None:
        key = (id(branch), prop)
        if key not in tag_cache:
            tag_cache[key] = tag_values(document, branch, prop)
        return tag_cache[key]

    def accepts(branch: Any, prop: str, tag: str) -> bool:
        allowed = tags(branch, prop)
        return allowed is None or tag in allowed

    def union(
        validator: Any, branches: list[Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        candidates = list(enumerate(branches))
        prop = (schema.get("discriminator") or {}).get("propertyName")
        if prop and isinstance(instance, dict) and isinstance(instance.get(prop), str):
            tag = instance[prop]
            narrowed = [(i, b) for i, b in candidates if accepts(b, prop, tag)]
            if not narrowed:
                known = sorted(set().union(*(tags(b, prop) or () for _, b in candidates)))
                yield ValidationError(f"{prop} {tag!r} is not one of {brief.repr(known)}")
                return
            candidates = narrowed
        failures: list[list[ValidationError]] = []
        for index, branch in candidates:
            found = list(validator.descend(instance, branch, schema_path=index))
            if not found:
                return
            failures.append(found)
        yield from _explain_union_failure(instance, failures)

    return validators.extend(Draft202012Validator, {"oneOf": union, "anyOf": union})


def _explain_union_failure(
    instance: object, failures: list[list[ValidationError]]
) -> Iterator[ValidationError]:
    """One error for a union no branch accepted, naming the branch that came closest.

    Branches rejected only for the wrong JSON type (the ``{type: null}`` half of a nullable, a
    string alternative to an object) say nothing useful once another branch got further.
    """
    informative = [errors for errors in failures if not _only_type_mismatch(errors)]
    if not informative:
        found = {kind for errors in failures for e in errors for kind in _type_names(e)}
        kinds = sorted(found, key=lambda kind: (kind == "null", kind))
        # Marked as a type error so an enclosing union can merge it ("string or object or null").
        yield ValidationError(
            f"{brief.repr(instance)} is not of type {' or '.join(kinds)}",
            validator="type",
            validator_value=kinds,
        )
    elif len(informative) == 1:
        yield from informative[0]
    else:
        yield ValidationError(
            f"{brief.repr(instance)} is not valid under any of the given schemas",
            context=[e for errors in informative for e in errors],
        )


def _type_names(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _only_type_mismatch(errors: list[ValidationError]) -> bool:
    return all(e.validator == "type" and not e.relative_path for e in errors)


def describe(label: str, error: ValidationError) -> str:
    best = best_match([error])
    message = best.message if len(best.message) <= 300 else best.message[:297] + "..."
    return f"{label} at {best.json_path}: {message}"
