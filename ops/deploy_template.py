"""``fraud-deploy-template --image-uri URI``: template.yaml pointing at an image already in ECR.

CI builds, tests and scans one image, pushes it to ECR tagged by commit, and deploys exactly that
image to staging and production. `sam deploy` of template.yaml as it is would need `sam build`,
which builds another image; this writes a copy of the template (as JSON, which CloudFormation and
SAM read alike) whose image functions carry ``ImageUri: URI`` and no Docker build metadata.
Nothing else changes: a test compares it with AWS's own parse of template.yaml.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path("template.yaml")
#: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag> or @sha256:<digest>
_ECR_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$"
)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt ...) as their long forms."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path) -> dict[str, Any]:
    """template.yaml as a dict in CloudFormation's long form."""
    loader = _CfnLoader(path.read_text())  # a SafeLoader: no arbitrary Python objects
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def with_image(template: dict[str, Any], image_uri: str) -> dict[str, Any]:
    """``template`` with every image function deployed from ``image_uri``."""
    if not _ECR_IMAGE.match(image_uri):
        raise ValueError(f"not an ECR image URI with a tag or digest: {image_uri!r}")
    out = json.loads(json.dumps(template))
    functions = [
        r
        for r in out.get("Resources", {}).values()
        if r.get("Type") == "AWS::Serverless::Function"
        and r.get("Properties", {}).get("PackageType") == "Image"
    ]
    if not functions:
        raise ValueError("the template has no image function")
    for resource in functions:
        resource["Properties"]["ImageUri"] = image_uri
        resource.pop("Metadata", None)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Write the deploy template; exit 0, or 2 for a bad image URI or template."""
    p = argparse.ArgumentParser(prog="fraud-deploy-template", description=__doc__.split("\n")[0])
    p.add_argument("--image-uri", required=True, help="ECR image, e.g. ...:<commit sha>")
    p.add_argument("--template", type=Path, default=TEMPLATE, help="SAM template (template.yaml)")
    p.add_argument("--out", type=Path, required=True, help="where to write the JSON template")
    args = p.parse_args(argv)
    try:
        result = with_image(load_template(args.template), args.image_uri)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        print(f"fraud-deploy-template: error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Compact: CloudFormation takes at most 51,200 bytes inline (make deploy uploads it to S3).
    args.out.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} (image {args.image_uri})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
