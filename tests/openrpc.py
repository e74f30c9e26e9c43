"""The execution-apis OpenRPC specification (`../shared/conformance/execution-apis/spec-src`): each method's result
schema, with the `#/components/schemas/…` references resolved as hive's built `openrpc.json` resolves them
(JSON Schema draft 2019-09)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft201909Validator

METHOD_DIRS = ("eth", "debug", "txpool", "testing")


class OpenRpc:
    def __init__(self, spec_src: Path) -> None:
        self.schemas: dict[str, Any] = {}
        for path in sorted((spec_src / "schemas").glob("*.yaml")):
            self.schemas.update(yaml.safe_load(path.read_text()))
        self.methods: dict[str, Any] = {}
        for folder in METHOD_DIRS:
            for path in sorted((spec_src / folder).glob("*.yaml")):
                for method in yaml.safe_load(path.read_text()):
                    self.methods[method["name"]] = method

    def result_validator(self, method: str) -> Draft201909Validator:
        """A validator of `method`'s result (KeyError for a method the specification does not have)."""
        schema = {"allOf": [self.methods[method]["result"]["schema"]], "components": {"schemas": self.schemas}}
        return Draft201909Validator(schema)

    def check_result(self, method: str, result: Any) -> None:
        """Raise jsonschema's ValidationError (the deepest failing part) if `result` breaks the schema."""
        error = next(iter(sorted(self.result_validator(method).iter_errors(result), key=lambda e: -len(e.path))),
                     None)
        if error is not None:
            raise error
