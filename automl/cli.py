"""`automl`: the `aws sagemaker` Autopilot subcommands with the same flags, plus run / wait / predict.

    automl create-auto-ml-job --cli-input-json file://request.json
    automl describe-auto-ml-job --auto-ml-job-name my-job
    automl create-auto-ml-job-v2 --cli-input-json file://request-v2.json   # tabular, text, time series
    automl describe-auto-ml-job-v2 --auto-ml-job-name my-job
    automl run data.csv --target label --max-runtime 300
    automl predict --job my-job --input new.csv --output predictions.csv [--candidate my-job-lightgbm-L1] [--explain 3]
    automl transform --job my-job --input data/ --output scored/   # batch transform: one .out per file
    automl resume my-job            # a job whose worker died: keep its finished candidates, train the rest
    automl join my-job              # one more worker for a running tuning job's study
    automl delete-job my-job [--outputs] | --older-than 7d [--status Failed]   # remove finished jobs
    automl create-auto-ml-job --scheduler tcp://host:8786 ...   # train on a Dask cluster (AUTOML_DASK_SCHEDULER)

Exit codes (the aws CLI's):
    0    success (run / wait / resume: the job ended Completed or Stopped)
    130  interrupted (Ctrl-C); a job being waited on keeps running
    252  a bad command line: an unknown or missing flag, a value that cannot be parsed
    254  the service refused the request (ValidationException, ResourceNotFound, ...)
    255  any other failure: the job ended Failed, `wait --timeout` expired, an unexpected error, or the reader of
         the output went away (`| head`): then quietly, as the aws CLI's waiters and catch-all do
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd
from botocore import xform_name

from automl import api, budget, cleanup, cli_globals, cli_output
from automl.artifacts import read_bytes
from automl.cli_help import HelpFormatter, doc_text, member_help, skeleton
from automl.contract import input_shape, output_shape, service_model
from automl.errors import AutoMLError, rename_path
from automl.problem import DEFAULT_OBJECTIVE
from automl.progress import ProgressPrinter, TransformProgress
from automl.settings import SETTINGS
from automl.shorthand import load_value
from automl.store import home
from automl.transform import CHUNK_ROWS, transform
from runners import dask_executor

LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/automl-local"
EXIT_SERVICE_ERROR = 254  # the AWS CLI's codes (module docstring)
EXIT_USAGE = 252
EXIT_FAILURE = 255
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as the shell reports a process ended by Ctrl-C
PREDICT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
# The request fields predict's errors name -> the flags the user typed (automl.errors.rename_path)
PREDICT_FIELDS = [("input.DataSource.S3DataSource.S3Uri", "--input"), ("input", "--input"), ("data", "--input"),
                  ("candidate", "--candidate"), ("explain", "--explain"), ("AutoMLJobName", "--job")]
REASON_WIDTH = 70  # the leaderboard's reason column: longer reasons are cut (leaderboard.csv has them whole)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the aws CLI's exit code for a bad command line (argparse's own is 2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _flag(member_name: str) -> str:
    return "--" + xform_name(member_name, "-")


def _add_operation(subparsers, operation: str) -> None:
    shape = input_shape(operation)
    doc = doc_text(service_model().operation_model(operation).documentation)
    parser = subparsers.add_parser(xform_name(operation, "-"), help=doc.split(". ")[0].split("\n")[0],
                                   description=doc.replace("%", "%%"), formatter_class=HelpFormatter)
    parser.set_defaults(operation=operation, command_parser=parser)
    for name, member in shape.members.items():
        flag = _flag(name)
        text = member_help(member, name in shape.required_members)
        if member.type_name == "boolean":
            group = parser.add_mutually_exclusive_group()
            group.add_argument(flag, dest=name, action="store_const", const="true", help=text)
            group.add_argument("--no-" + flag[2:], dest=name, action="store_const", const="false",
                               help=f"(boolean) sets {name} to false")
        elif member.type_name == "list":
            parser.add_argument(flag, dest=name, nargs="+", metavar="VALUE", help=text)
        else:
            parser.add_argument(flag, dest=name, metavar="VALUE", help=text)
    parser.add_argument("--cli-input-json", help="the whole request as JSON, or file://request.json")
    parser.add_argument("--generate-cli-skeleton", nargs="?", const="input", choices=("input", "output"),
                        help="print a request (or response) template and exit")
    if operation.startswith("CreateAutoMLJob"):
        _add_scheduler(parser)
    cli_globals.add_options(parser, operation)


def _add_scheduler(parser) -> None:
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786",
                        help="a Dask scheduler: the job's candidates and trials run on its cluster "
                             f"(the same as {dask_executor.SETTING})")


def _request(args, operation: str) -> dict:
    """The request from --cli-input-json and the flags (flags win); a required member in neither is a usage
    error, named by its flag as the aws CLI names it."""
    shape = input_shape(operation)
    parser = args.command_parser
    request = {}
    if args.cli_input_json:
        text = args.cli_input_json
        try:
            if text.startswith("file://"):
                text = Path(text[len("file://"):]).expanduser().read_text()
            request = json.loads(text)
        except OSError as exc:
            parser.error(f"argument --cli-input-json: cannot be read: {exc}")
        except ValueError as exc:
            parser.error(f"argument --cli-input-json: is not valid JSON: {exc}")
        if not isinstance(request, dict):
            parser.error("argument --cli-input-json: must be a JSON object of the request's members")
    for name, member in shape.members.items():
        raw = getattr(args, name)
        if raw is None:
            continue
        try:
            if member.type_name == "list":
                values = [load_value(v, member, name) for v in raw]
                request[name] = values[0] if len(values) == 1 and isinstance(values[0], list) else [
                    v for value in values for v in (value if isinstance(value, list) else [value])]
            else:
                request[name] = load_value(raw, member, name)
        except OSError as exc:  # a file:// value that cannot be read
            parser.error(f"argument {_flag(name)}: {exc}")
    missing = [_flag(name) for name in shape.required_members if request.get(name) is None]
    if missing:
        parser.error("the following arguments are required: " + ", ".join(missing))
    return request


def _print_json(value) -> None:
    print(json.dumps(value, indent=4, default=lambda v: v.isoformat() if isinstance(v, dt.datetime) else str(v)))


def _emit(client: api.Client, args, operation: str) -> int:
    """The operation's answer as the aws CLI shows it: --output and --query checked before the call is made."""
    output = cli_globals.output_format(args)
    cli_output.compile_query(args.cli_query)  # compiled once: render() reuses it
    answer = cli_globals.answer(args, operation, _request(args, operation), client)
    sys.stdout.write(cli_output.render(answer, output, args.cli_query, title=operation,
                                       width=cli_output.terminal_width()))
    return 0


def _run_request(args) -> dict:
    name = args.name or "run-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
    channel = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": args.data}},
               "TargetAttributeName": args.target}
    if args.data.endswith((".parquet", ".pq")):
        channel["ContentType"] = "x-application/vnd.amazon+parquet"
    if args.data.endswith(".gz"):
        channel["CompressionType"] = "Gzip"
    request = {"AutoMLJobName": name, "InputDataConfig": [channel],
               "OutputDataConfig": {"S3OutputPath": args.output}, "RoleArn": LOCAL_ROLE_ARN}
    if args.problem_type:
        request["ProblemType"] = args.problem_type
    if args.objective:
        request["AutoMLJobObjective"] = {"MetricName": args.objective}
    config = {}
    if args.max_runtime:
        config["CompletionCriteria"] = {"MaxAutoMLJobRuntimeInSeconds": args.max_runtime}
    if args.mode:
        config["Mode"] = args.mode
    if config:
        request["AutoMLJobConfig"] = config
    return request


def _show_leaderboard(describe: dict) -> None:
    out = describe["OutputDataConfig"]["S3OutputPath"].rstrip("/") + "/" + describe["AutoMLJobName"]
    try:
        board = pd.read_csv(io.BytesIO(read_bytes(out + "/leaderboard.csv")), dtype={"failure_reason": str})
    except (OSError, FileNotFoundError):
        return
    print(_leaderboard_table(board))
    print(f"\noutputs: {out}")


def _leaderboard_table(board: pd.DataFrame) -> str:
    """leaderboard.csv for the terminal: whole ranks (a candidate that did not complete has none), blanks for
    missing numbers, and why each candidate that did not complete stopped or failed."""
    columns = ["rank", "candidate_name", "algorithm", "objective_value", "fit_seconds", "status"]
    table = board[columns].astype(object).where(board[columns].notna(), "")
    table["rank"] = [f"{int(rank)}" if rank != "" else "" for rank in table["rank"]]
    table["reason"] = [_reason(name, reason) for name, reason in zip(board["candidate_name"],
                                                                      board["failure_reason"], strict=True)]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", REASON_WIDTH):
        return table.to_string(index=False)


def _reason(candidate: str, reason) -> str:
    """The failure reason without the candidate name it starts with, cut to REASON_WIDTH."""
    if not isinstance(reason, str):
        return ""
    reason = reason.removeprefix(f"{candidate}: ")
    return reason if len(reason) <= REASON_WIDTH else reason[:REASON_WIDTH - 3] + "..."


@contextmanager
def _keeps_running(name: str):
    """Ctrl-C while a job runs in its own worker: the job goes on; say so, and how to follow or stop it."""
    try:
        yield
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted; {name} keeps running: automl wait {name}, or automl "
                                f"stop-auto-ml-job --auto-ml-job-name {name}") from None


def _finish(client: api.Client, name: str, timeout: float | None) -> int:
    """Wait like the aws CLI's waiters: 0 once the job is Completed or Stopped, 255 when it Failed or the wait
    timed out."""
    try:
        with _keeps_running(name):
            describe = client.wait(name, timeout=timeout, on_poll=ProgressPrinter())
    except TimeoutError as exc:
        print(f"automl: wait timed out: {exc}; it keeps running: automl wait {name}", file=sys.stderr)
        return EXIT_FAILURE
    _show_leaderboard(describe)
    print(f"{describe['AutoMLJobName']}: {describe['AutoMLJobStatus']} ({describe['AutoMLJobSecondaryStatus']})"
          + (f": {describe['FailureReason']}" if describe.get("FailureReason") else ""))
    return EXIT_FAILURE if describe["AutoMLJobStatus"] == "Failed" else 0


def _predict(client: api.Client, args) -> int:
    kind = "csv" if args.output is None else PREDICT_FORMATS.get(Path(args.output).suffix.lower())
    if kind is None:
        args.command_parser.error(f"argument --output: must end in {', '.join(PREDICT_FORMATS)} (CSV, JSON "
                                  f"Lines or Parquet); got {args.output!r}")
    frame = client.predict(args.job, args.input, candidate=args.candidate, explain=args.explain)
    if kind == "jsonl":  # application/jsonlines, as batch transform writes it: one object per row
        frame.to_json(args.output, orient="records", lines=True, date_format="iso")
        return 0
    for column in ("probabilities", "labels", "explanation"):
        if column in frame:
            frame[column] = frame[column].map(json.dumps)
    if args.output is None:
        frame.to_csv(sys.stdout, index=False)
    elif kind == "parquet":
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)
    return 0


def _add_transform(subparsers) -> None:
    parser = subparsers.add_parser("transform", help="batch transform a file or folder: one <file>.out per file, "
                                                     "one answer line per record")
    parser.add_argument("--job", required=True)
    parser.add_argument("--candidate", help="any Completed candidate of the job (default: the best)")
    parser.add_argument("--input", required=True, help="file or folder (recursively): local path, file://, s3://")
    parser.add_argument("--output", required=True, help="folder for the .out files")
    parser.add_argument("--content-type", default="text/csv", help="text/csv (default) or application/jsonlines")
    parser.add_argument("--accept", default="text/csv", help="text/csv (default) or application/jsonlines")
    parser.add_argument("--output-keys", help="SAGEMAKER_INFERENCE_OUTPUT: a comma-separated subset of "
                                              "predicted_label,probability,probabilities,labels")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="records scored at a time")


def _transform(client: api.Client, args) -> int:
    result = transform(client.store, args.job, args.input, args.output, candidate=args.candidate,
                       content_type=args.content_type, accept=args.accept, keys=args.output_keys,
                       chunk_rows=args.chunk_rows, progress=TransformProgress())
    print(f"{result.records:,} records in {result.files} files, {result.seconds:.1f} s -> {args.output}",
          file=sys.stderr)
    return 0


def _add_delete(subparsers) -> None:
    parser = subparsers.add_parser("delete-job", help="remove finished jobs: store rows, tuning study, log and "
                                   "scratch, and with --outputs their output folders (not a SageMaker operation)")
    parser.set_defaults(field_flags=[("names", "NAME"), ("older_than_s", "--older-than"), ("statuses", "--status")])
    parser.add_argument("names", nargs="*", metavar="NAME", help="the jobs to delete")
    parser.add_argument("--older-than", metavar="DURATION", help="instead of names: the finished jobs that ended "
                        "at least this long ago (90s, 30m, 12h, 7d, 2w)")
    parser.add_argument("--status", nargs="+", choices=cleanup.FINISHED, help="instead of names: the finished jobs "
                        "of these statuses (with --older-than: both)")
    parser.add_argument("--outputs", action="store_true", help="also remove S3OutputPath/<job>/ (the models)")
    parser.add_argument("--dry-run", action="store_true", help="remove nothing; list what would be removed")


def _delete(client: api.Client, args) -> int:
    older = None if args.older_than is None else cleanup.parse_duration(args.older_than)
    deletions = client.delete_jobs(args.names, older_than_s=older, statuses=args.status or (),
                                   outputs=args.outputs, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for deletion in deletions:
        if deletion.kept:
            print(f"kept {deletion.job} ({deletion.status}): {deletion.kept}")
            continue
        print(f"{verb} {deletion.job} ({deletion.status}):")
        for trace in deletion.traces:
            print(f"  {trace.kind}: {trace.location}" + (f" ({trace.detail})" if trace.detail else "")
                  + ("" if trace.size is None else f", {_bytes(trace.size)}"))
        if deletion.outputs_kept:
            print(f"  outputs kept: {deletion.outputs_kept} (--outputs removes them)")
        for problem in deletion.problems:
            print(f"automl: {deletion.job}: {problem}", file=sys.stderr)
    gone = [d for d in deletions if not d.kept]
    print(f"{verb} {len(gone)} job{'s' * (len(gone) != 1)} ({_bytes(sum(d.size for d in gone))})")
    return EXIT_FAILURE if not args.dry_run and any(d.problems for d in deletions) else 0


def _bytes(size: float) -> str:
    units, step = ("bytes", "kB", "MB", "GB", "TB"), 0
    while size >= 1000 and step < len(units) - 1:
        size, step = size / 1000, step + 1
    return f"{size:.0f} bytes" if step == 0 else f"{size:.1f} {units[step]}"


def _run_description() -> str:
    return (f"Create a job from a data file, wait for it, show its leaderboard.\n\n"
            f"The job's outputs (leaderboard.csv, candidates/, reports) go to --output/<name>/; the job itself is "
            f"kept in the store, AUTOML_HOME (default ~/.automl; now {home()}), where describe, wait and predict "
            f"find it by name. The job runs in its own worker: Ctrl-C stops the waiting, not the job.")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="automl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_globals.add_options(parser)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for operation in api.OPERATIONS:
        _add_operation(subparsers, operation)
    run = subparsers.add_parser("run", help="create a job from a data file with defaults, wait, show leaderboard",
                                description=_run_description(), formatter_class=HelpFormatter)
    run.set_defaults(command_parser=run)
    run.add_argument("data", help="CSV/Parquet file or folder: local path, file://, s3://")
    run.add_argument("--target", required=True, help="the column to predict (TargetAttributeName)")
    run.add_argument("--problem-type", choices=("BinaryClassification", "MulticlassClassification", "Regression"),
                     help="default: inferred from the target column")
    run.add_argument("--objective", help="AutoMLJobObjective's MetricName (default: "
                     + ", ".join(f"{metric} for {kind.value}" for kind, metric in DEFAULT_OBJECTIVE.items()) + ")")
    run.add_argument("--output", default="automl-output", help="the folder (local, file://, s3://) that gets "
                     "<name>/ with the job's outputs (default: %(default)s, under the current folder)")
    run.add_argument("--max-runtime", type=int, help="MaxAutoMLJobRuntimeInSeconds (default: SageMaker's "
                     f"{budget.DEFAULT_MAX_JOB_RUNTIME_S} s, 30 days; the job ends sooner, once its candidates "
                     "are trained)")
    threshold = SETTINGS["AUTOML_AUTO_MODE_THRESHOLD_BYTES"].default
    run.add_argument("--mode", choices=("AUTO", "ENSEMBLING", "HYPERPARAMETER_TUNING"), help="default: AUTO, which "
                     f"is ENSEMBLING below {threshold / 2 ** 20:.0f} MiB of training data "
                     "(AUTOML_AUTO_MODE_THRESHOLD_BYTES), HYPERPARAMETER_TUNING from there")
    run.add_argument("--name", help="job name (default: run-<timestamp>)")
    run.add_argument("--no-wait", action="store_true", help="print the ARN and return at once")
    _add_scheduler(run)
    wait = subparsers.add_parser("wait", help="block until a job ends, showing progress")
    wait.add_argument("name")
    wait.add_argument("--timeout", type=float)
    resume = subparsers.add_parser("resume", help="restart a job whose worker died, keeping finished candidates")
    resume.add_argument("name")
    resume.add_argument("--no-wait", action="store_true", help="return once the new worker is started")
    _add_scheduler(resume)
    join = subparsers.add_parser("join", help="run trials for a running tuning job's study in this process")
    join.add_argument("name")
    predict = subparsers.add_parser("predict", help="score data with a job's best candidate (or --candidate)")
    predict.set_defaults(command_parser=predict, field_flags=PREDICT_FIELDS)
    predict.add_argument("--job", required=True)
    predict.add_argument("--candidate", help="any Completed candidate of the job (default: the best)")
    predict.add_argument("--input", required=True)
    predict.add_argument("--output", help="a .csv, .jsonl or .json (JSON Lines: one object per row, as batch "
                         "transform's application/jsonlines), .parquet or .pq file (default: CSV on stdout)")
    predict.add_argument("--explain", type=int, nargs="?", const=3, default=0, metavar="K",
                         help="add each row's K (default 3) largest SHAP contributions as an explanation column")
    report = subparsers.add_parser("report", help="where a job's reports are (exploration, candidate notebook, "
                                   "model insights, explainability); --candidate makes a candidate's on request")
    report.add_argument("name")
    report.add_argument("--candidate", help="a Completed candidate of the job whose insights to show (made if "
                        "missing)")
    report.add_argument("--open", action="store_true", help="open the HTML report in a browser (the candidate's "
                        "model insights with --candidate, else the data exploration report)")
    serve = subparsers.add_parser("serve", help="serve the SageMaker API and the endpoints over HTTP (boto3 and the "
                                  "aws CLI with --endpoint-url)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                       "only; 0.0.0.0 opens it to the network)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--model-port-base", type=int, help="first port of the per-endpoint model servers (GET /ping, "
                       "POST /invocations; default: --port + 1)")
    _add_transform(subparsers)
    _add_delete(subparsers)
    return parser


def _report(client: api.Client, args) -> int:
    locations = client.report(args.name, args.candidate)
    _print_json(locations)
    if args.open:
        import webbrowser

        page = (locations["Candidates"].get(args.candidate, {}).get("ModelInsights") if args.candidate
                else locations.get("DataExplorationReport"))
        if page is None:
            print(f"automl: {args.name} has no such HTML report to open", file=sys.stderr)
            return EXIT_USAGE
        webbrowser.open(page)
    return 0


def main(argv: list[str] | None = None) -> int:
    """One command; returns its exit code (the module docstring's table), printing one line on stderr for any
    failure, never a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a reader that went away (`| head`) fails here or in a print
        return code
    except SystemExit as exc:  # argparse: --help (0) or a bad command line (EXIT_USAGE)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_FAILURE
    except KeyboardInterrupt as exc:
        print(f"automl: {exc.args[0] if exc.args else 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"automl: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _discard_stdout() -> None:
    """Python's recipe for a closed pipe: point stdout at devnull, so the flush at exit does not fail again."""
    with suppress(OSError, ValueError):  # ValueError: stdout is no file descriptor (a test's capture)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "scheduler", None):
        os.environ[dask_executor.SETTING] = args.scheduler  # the job's worker inherits it
    operation = getattr(args, "operation", None)
    try:
        client = api.client()  # inside: an AUTOML_HOME that cannot be made is the service's refusal (254)
        if operation is not None:
            if args.generate_cli_skeleton:
                shape = input_shape(operation) if args.generate_cli_skeleton == "input" else output_shape(operation)
                _print_json(skeleton(shape))
                return 0
            return _emit(client, args, operation)
        cli_globals.refuse_for_local(args, args.command)
        if args.command == "run":
            request = _run_request(args)
            arn = client.create_auto_ml_job(**request)["AutoMLJobArn"]
            print(f"created {request['AutoMLJobName']} ({arn})", file=sys.stderr)
            return 0 if args.no_wait else _finish(client, request["AutoMLJobName"], None)
        if args.command == "serve":
            from automl.server.run import serve  # the server stack loads only for this command

            serve(args.host, args.port, args.model_port_base)
            return 0
        if args.command == "wait":
            return _finish(client, args.name, args.timeout)
        if args.command == "resume":
            client.resume_auto_ml_job(AutoMLJobName=args.name)
            print(f"resumed {args.name}", file=sys.stderr)
            return 0 if args.no_wait else _finish(client, args.name, None)
        if args.command == "join":
            with _keeps_running(args.name):
                reason = client.join_auto_ml_job(AutoMLJobName=args.name)
            print(f"{args.name}: this worker ended ({reason})", file=sys.stderr)
            return 0
        if args.command == "transform":
            return _transform(client, args)
        if args.command == "report":
            return _report(client, args)
        if args.command == "delete-job":
            return _delete(client, args)
        return _predict(client, args)
    except AutoMLError as exc:
        where = f" when calling the {operation} operation" if operation else ""
        message = rename_path(exc.message, getattr(args, "field_flags", []))
        print(f"An error occurred ({exc.code}){where}: {message}", file=sys.stderr)
        return EXIT_SERVICE_ERROR
    except ValueError as exc:  # a global option or setting the command line cannot use, as the aws CLI's
        print(f"automl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
