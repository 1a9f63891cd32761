"""The aws CLI's global options on `automl`'s aws sagemaker operations, and the call they shape.

Accepted before the command (`automl --output table list-auto-ml-jobs`) and after it (`automl list-auto-ml-jobs
--output table`), as the aws CLI accepts them. They apply to the aws sagemaker operations only: run, wait, predict
and the other local commands refuse them, since they work on this machine's store (and some have an --output of
their own).

The call is made as the aws CLI makes it, so the formatters see what the aws CLI's see: a paginated List
(ListAutoMLJobs, ListCandidatesForAutoMLJob, ListEndpoints) is followed page by page through NextToken with
botocore's paginator unless --no-paginate, --max-results or --next-token asks for one call; the answer is the
one botocore parses off the wire, timestamps left as sent (epoch seconds, the aws CLI v1's `wire` format) and
members in the service model's order. With --endpoint-url the operation goes to that `automl serve` (or
SageMaker) through botocore; without it, to the engine on this machine, its answer put through the same wire
encoding and parser.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
from functools import cache
from urllib.parse import urlparse

import botocore
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, InvalidRegionError, ParamValidationError, ProfileNotFound
from botocore.paginate import Paginator
from botocore.parsers import ResponseParserFactory

from automl.cli_output import OUTPUTS, check_output
from automl.contract import output_shape, service_model
from automl.errors import AutoMLError

# dest -> flag, for the options that only the aws sagemaker operations take (--version goes anywhere)
OPERATION_FLAGS = {"cli_query": "--query", "cli_output": "--output", "cli_no_paginate": "--no-paginate",
                   "cli_endpoint_url": "--endpoint-url", "cli_region": "--region", "cli_profile": "--profile",
                   "cli_no_sign_request": "--no-sign-request"}
PAGING_FLAGS = {"cli_page_size": ("--page-size", "PageSize"), "cli_max_items": ("--max-items", "MaxItems"),
                "cli_starting_token": ("--starting-token", "StartingToken")}
OUTPUT_SETTING = ("output", "AWS_DEFAULT_OUTPUT", "json", None)  # what the aws CLI adds to botocore's settings


@cache
def version_line() -> str:
    """`automl --version`, in the aws CLI's form: tool, Python, platform and botocore versions."""
    try:
        ours = importlib.metadata.version("automl-local")
    except importlib.metadata.PackageNotFoundError:
        ours = "unknown"
    return (f"automl/{ours} Python/{platform.python_version()} {platform.system()}/{platform.release()} "
            f"botocore/{botocore.__version__}")


def add_options(parser: argparse.ArgumentParser, operation: str | None = None) -> None:
    """The global options, on the top parser (operation None: the defaults live there) or on an operation's parser
    (after the command: no defaults, so they do not overwrite one given before it), plus the aws CLI's
    --page-size, --max-items and --starting-token on a paginated operation."""
    after = {} if operation is None else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("global options (the aws CLI's; before or after the command)")
    group.add_argument("--query", dest="cli_query", metavar="JMESPATH", **after,
                       help="a JMESPath expression applied to the answer before it is shown")
    group.add_argument("--output", dest="cli_output", metavar="|".join(OUTPUTS), **after,
                       help="how the answer is shown (default: AWS_DEFAULT_OUTPUT, else the profile's output "
                            "setting in the AWS config file, else json)")
    group.add_argument("--no-paginate", dest="cli_no_paginate", action="store_true", **after,
                       help="one call for a List: its first page (default: every page, merged)")
    group.add_argument("--endpoint-url", dest="cli_endpoint_url", metavar="URL", **after,
                       help="send the operation to this `automl serve` (or SageMaker) instead of this machine's "
                            "store")
    group.add_argument("--region", dest="cli_region", metavar="REGION", **after,
                       help="with --endpoint-url: the region signed for (default: the AWS config's, else "
                            "us-east-1); ignored without it")
    group.add_argument("--profile", dest="cli_profile", metavar="PROFILE", **after,
                       help="the AWS config profile whose output setting is the default of --output; with "
                            "--endpoint-url, also whose credentials and region are used")
    group.add_argument("--no-sign-request", dest="cli_no_sign_request", action="store_true", **after,
                       help="with --endpoint-url: send the request unsigned (an `automl serve` without "
                            "AUTOML_ACCESS_KEYS accepts it)")
    group.add_argument("--version", action="version", version=version_line(), help="print the version and exit")
    if operation is not None and _pagination(operation) is not None:
        paging = parser.add_argument_group("paging (the aws CLI's)")
        paging.add_argument("--page-size", dest="cli_page_size", type=int, metavar="N",
                            help="items asked for in each call (MaxResults); every page is still followed")
        paging.add_argument("--max-items", dest="cli_max_items", type=int, metavar="N",
                            help="items shown in all; past them the answer ends with a NextToken for "
                                 "--starting-token")
        paging.add_argument("--starting-token", dest="cli_starting_token", metavar="TOKEN",
                            help="the NextToken an earlier --max-items answer ended with")


def refuse_for_local(args: argparse.Namespace, command: str) -> None:
    """A command that is not an aws sagemaker operation takes none of the global options but --version."""
    for dest, flag in OPERATION_FLAGS.items():
        if getattr(args, dest, None) not in (None, False):
            raise ValueError(f"{flag}: is an option of the aws sagemaker operations only; {command!r} works on "
                             "this machine's store")


def output_format(args: argparse.Namespace) -> str:
    """--output, else the aws CLI's default: AWS_DEFAULT_OUTPUT, the profile's `output` setting, json."""
    if args.cli_output is not None:
        return check_output(args.cli_output)
    source = "AWS_DEFAULT_OUTPUT" if "AWS_DEFAULT_OUTPUT" in os.environ else "output (in the AWS config file)"
    return check_output(_setting(_session(args.cli_profile), "output"), source)


def answer(args: argparse.Namespace, operation: str, request: dict, client):
    """The operation's answer: a parsed response, or a botocore PageIterator over every page of a List."""
    method = _remote(args, operation) if args.cli_endpoint_url else _local(client, operation)
    config = _pagination(operation)
    paging = {key: getattr(args, dest) for dest, (_, key) in PAGING_FLAGS.items()
              if getattr(args, dest, None) is not None}
    if config is None:
        return method(**request)
    manual = [xform_name(t, "-") for t in _tokens(config) if getattr(args, t, None) is not None]
    if args.cli_no_paginate or manual:
        if paging:
            given = ", ".join(flag for dest, (flag, key) in PAGING_FLAGS.items() if key in paging)
            why = "--no-paginate" if args.cli_no_paginate else "--" + manual[0]
            raise ValueError(f"{given}: cannot be given with {why}, which makes one call")
        return method(**request)
    return Paginator(method, config, service_model().operation_model(operation)).paginate(
        **request, PaginationConfig=paging)


def _tokens(config: dict) -> list[str]:
    """The request members that page by hand (NextToken, MaxResults): given as flags, they turn paging off."""
    tokens = config["input_token"] if isinstance(config["input_token"], list) else [config["input_token"]]
    return tokens + ([config["limit_key"]] if "limit_key" in config else [])


@cache
def _pagination(operation: str) -> dict | None:
    try:
        return botocore.session.get_session().get_paginator_model("sagemaker").get_paginator(operation)
    except ValueError:
        return None


def _as_sent(value):
    return value


def _wire_parsers(factory: ResponseParserFactory) -> ResponseParserFactory:
    """Timestamps and blobs as they came over the wire, as the aws CLI v1 shows them."""
    factory.set_parser_defaults(timestamp_parser=_as_sent, blob_parser=_as_sent)
    return factory


def _local(client, operation: str):
    """The engine's answer as it reaches a client of `automl serve`: its wire JSON, parsed by botocore."""
    from automl.server.protocol import dumps  # the server's encoding: the same bytes the aws CLI would read

    parser = _wire_parsers(ResponseParserFactory()).create_parser("json")
    shape = output_shape(operation)

    def call(**request) -> dict:
        return parser.parse({"status_code": 200, "headers": {}, "body": dumps(client.call(operation, request))},
                            shape)

    return call


def _session(profile: str | None) -> botocore.session.Session:
    return botocore.session.Session(session_vars={"output": OUTPUT_SETTING}, profile=profile)


def _setting(session: botocore.session.Session, name: str):
    try:
        return session.get_config_variable(name)
    except ProfileNotFound as exc:
        raise ValueError(f"--profile: {exc}") from None


def _remote(args: argparse.Namespace, operation: str):
    url = args.cli_endpoint_url
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ValueError(f"--endpoint-url: must be a URL such as http://HOST:PORT or https://HOST; got {url!r}")
    session = _session(args.cli_profile)
    _wire_parsers(session.get_component("response_parser_factory"))
    region = args.cli_region or _setting(session, "region") or "us-east-1"
    config = Config(signature_version=botocore.UNSIGNED) if args.cli_no_sign_request else None
    try:
        method = getattr(session.create_client("sagemaker", region_name=region, endpoint_url=url, config=config),
                         xform_name(operation))
    except InvalidRegionError as exc:
        raise ValueError(f"--region: {exc}") from None
    except ProfileNotFound as exc:
        raise ValueError(f"--profile: {exc}") from None

    def call(**request) -> dict:
        try:
            return method(**request)
        except ClientError as exc:  # the service's own error: shown as the engine's are
            error = exc.response.get("Error", {})
            raised = AutoMLError(error.get("Message", ""))
            raised.code = error.get("Code", "Unknown")
            raise raised from None
        except ParamValidationError as exc:
            raise ValueError(str(exc)) from None
        except BotoCoreError as exc:  # no connection, no credentials
            raise ConnectionError(f"--endpoint-url {url}: {exc}") from None

    return call
