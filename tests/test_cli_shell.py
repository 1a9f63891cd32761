"""The `automl` command as a shell sees it, driven as a subprocess: the aws CLI's exit codes, Ctrl-C while a job
runs, a reader that goes away (`| head`), help made from the service model, predict's output formats and flags,
and the leaderboard printed after a wait.

One job (`shell`) runs through the module, in order: interrupted while `automl run` and `automl wait` follow it,
stopped while a candidate trains, once another has completed, then predicted with."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from botocore import xform_name

import automl
from automl.cli_help import doc_text, shorthand_example
from automl.contract import input_shape
from automl.shorthand import parse_shorthand
from tests.conftest import BREAST_CANCER, REPO, ROLE

JOB = "shell"
KEEPS_RUNNING = (f"automl: interrupted; {JOB} keeps running: automl wait {JOB}, or automl stop-auto-ml-job "
                 f"--auto-ml-job-name {JOB}")


def start(env, *args, **popen) -> subprocess.Popen:
    """The CLI in its own session, as a terminal's foreground job is: a signal to its group reaches it alone
    (the job's worker leads a session of its own), and Ctrl-C is neither ignored nor blocked in it, whatever
    the test process inherited or set (a child keeps an ignored or blocked SIGINT across exec)."""
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | popen
    return subprocess.Popen([sys.executable, "-m", "automl.cli", *map(str, args)], cwd=REPO, env=env, text=True,
                            start_new_session=True, preexec_fn=_as_a_terminal_starts_it, **popen)


def _as_a_terminal_starts_it() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sigint_state(pid: int) -> str:
    """Whether the kernel has SIGINT blocked or ignored for the process (bit 2 of SigBlk / SigIgn)."""
    try:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if line.startswith(("SigBlk", "SigIgn")))
    except OSError:
        return "ended"
    return ", ".join(f"{k} {'yes' if int(v, 16) & 2 else 'no'}" for k, v in status.items())


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, out or "", err or ""


def run_all(env, *commands) -> list[tuple[int, str, str]]:
    """Several CLI calls at once (each spends seconds importing), answers in order."""
    return [finish(p) for p in [start(env, *command) for command in commands]]


def read_until(process: subprocess.Popen, text: str) -> None:
    """Read the CLI's stderr (its progress lines) until a line holds `text`."""
    while True:
        line = process.stderr.readline()
        assert line, f"the CLI ended (rc {process.wait()}) before printing {text!r}"
        if text in line:
            return


def interrupt(process: subprocess.Popen) -> tuple[int, list[str]]:
    """Ctrl-C: SIGINT to the foreground process group; returns the exit code and the stderr lines after it that
    are not progress lines."""
    state = _sigint_state(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    code, _, err = finish(process)
    return code, [line for line in err.splitlines() if not line.startswith("[")] or [f"SIGINT: {state}"]


def messages(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("[")]


SLOW = ("catboost", "fastai", "torch", "randomforest", "trees")  # the last word of their algorithm names


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """`automl run` on breast cancer, followed until its candidates train; the job runs up to 120 s. Beside it,
    `doomed`, whose data is deleted once it is created: its worker fails to read it."""
    root = tmp_path_factory.mktemp("shell")
    env = os.environ | {"PYTHONPATH": str(REPO), "AUTOML_HOME": str(root / "home")}
    doomed = root / "doomed.csv"
    doomed.write_bytes(BREAST_CANCER.read_bytes())
    creating = start(env, "run", doomed, "--target", "diagnosis", "--name", "doomed", "--no-wait", "--output",
                     root / "out")
    run = start(env, "run", BREAST_CANCER, "--target", "diagnosis", "--name", JOB, "--output", root / "out",
                "--max-runtime", 120, "--mode", "ENSEMBLING")
    code, _, err = finish(creating)
    assert code == 0, err
    doomed.unlink()  # before its worker (seconds of imports) reads it
    read_until(run, "TrainingModels")
    yield {"env": env, "root": root, "run": run, "sm": automl.client(root / "home")}
    if run.poll() is None:
        run.kill()


def test_ctrl_c_in_run_leaves_the_job_running(job):
    code, lines = interrupt(job["run"])
    assert code == 130 and lines == [KEEPS_RUNNING], lines
    assert job["sm"].describe_auto_ml_job(AutoMLJobName=JOB)["AutoMLJobStatus"] == "InProgress"


def test_wait_timeout_and_ctrl_c_in_wait(job):
    waiting = start(job["env"], "wait", JOB)
    code, _, err = finish(start(job["env"], "wait", JOB, "--timeout", 1))
    assert code == 255 and "Traceback" not in err
    [line] = messages(err)
    assert re.fullmatch(rf"automl: wait timed out: job '{JOB}' is still \w+ after 1\.0 s; it keeps running: "
                        rf"automl wait {JOB}", line), line
    read_until(waiting, "TrainingModels")
    code, lines = interrupt(waiting)
    assert code == 130 and lines == [KEEPS_RUNNING], lines
    assert job["sm"].describe_auto_ml_job(AutoMLJobName=JOB)["AutoMLJobStatus"] == "InProgress"


def test_usage_errors_exit_252_and_help_comes_from_the_model(job):
    request = job["root"] / "partial.json"
    request.write_text(json.dumps({"AutoMLJobName": "partial", "RoleArn": ROLE}))
    unknown, merged, suffix, create_help, run_help = run_all(
        job["env"],
        ["list-auto-ml-jobs", "--bogus", "1"],
        ["create-auto-ml-job", "--cli-input-json", f"file://{request}"],
        ["predict", "--job", "ghost", "--input", BREAST_CANCER, "--output", "p.txt"],
        ["create-auto-ml-job", "--help"],
        ["run", "--help"])
    for code, _, err in (unknown, merged, suffix):
        assert code == 252 and "Traceback" not in err and err.startswith("usage: automl"), err
    assert unknown[2].endswith("automl: error: unrecognized arguments: --bogus 1\n")
    assert merged[2].endswith("automl create-auto-ml-job: error: the following arguments are required: "
                              "--input-data-config, --output-data-config\n"), merged[2]
    assert suffix[2].endswith("automl predict: error: argument --output: must end in .csv, .jsonl, .json, .parquet, "
                              ".pq (CSV, JSON Lines or Parquet); got 'p.txt'\n"), "checked before the job is looked up"

    code, out, _ = create_help
    flat = " ".join(out.split())
    assert code == 0 and "<p>" not in out and "<code>" not in out
    shape = input_shape("CreateAutoMLJob")
    for name, member in shape.members.items():
        flag = "--" + xform_name(name, "-")
        kind = f"({member.type_name})" + (" [required]" if name in shape.required_members else "")
        assert f"{flag} " in flat and f"{kind} {' '.join(doc_text(member.documentation).split())}" in flat, name
    assert ("\n  --auto-ml-job-name VALUE\n" in out and "(string) [required] Identifies an Autopilot job." in flat)
    assert "(string) Defines the type of supervised learning problem" in flat, "ProblemType is not required"
    assert ("Shorthand Syntax: DataSource={S3DataSource={S3DataType=string,S3Uri=string}},CompressionType=string,"
            "TargetAttributeName=string,ContentType=string,ChannelType=string,SampleWeightAttributeName=string ..."
            in flat)
    assert "Shorthand Syntax: Key=string,Value=string ..." in flat
    assert "Possible values: BinaryClassification, MulticlassClassification, Regression" in flat
    assert 'JSON Syntax: { "CompletionCriteria": { "MaxCandidates": 0,' in flat, "too deep for shorthand"

    code, out, _ = run_help
    flat = " ".join(out.split())
    assert code == 0
    assert f"AUTOML_HOME (default ~/.automl; now {job['root'] / 'home'})" in flat
    assert "(default: automl-output, under the current folder)" in flat
    assert "(default: SageMaker's 2592000 s, 30 days;" in flat
    assert "default: AUTO, which is ENSEMBLING below 100 MiB of training data" in flat
    assert "F1 for BinaryClassification" in flat


def _follows(value, shape) -> bool:
    """A parsed shorthand example has every member of its shape, each a placeholder of the member's type."""
    kind = shape.type_name
    if kind == "structure":
        return isinstance(value, dict) and list(value) == list(shape.members) and all(
            _follows(value[k], m) for k, m in shape.members.items())
    if kind == "list":
        return isinstance(value, list) and len(value) == 2 and all(_follows(v, shape.member) for v in value)
    if kind == "map":
        return isinstance(value, dict) and list(value) == ["KeyName1", "KeyName2"] and all(
            _follows(v, shape.value) for v in value.values())
    return value == kind


def test_every_shorthand_example_in_the_help_is_what_the_parser_reads():
    shown = 0
    for operation in automl.api.OPERATIONS:
        for name, member in input_shape(operation).members.items():
            example = shorthand_example(member)
            if example is None:
                continue
            shown += 1
            element = member.member if member.type_name == "list" else member
            text = example.removesuffix(" ...")
            assert _follows(parse_shorthand(text, name), element), (operation, name, example)
    assert shown >= 20


def test_a_failed_job_exits_255(job):
    code, out, err = finish(start(job["env"], "wait", "doomed"))
    assert code == 255 and "doomed: Failed (Failed): " in out and "doomed.csv" in out, (out, err)
    assert "Traceback" not in err


def test_stopped_job_shows_integer_ranks_and_why_candidates_stopped(job):
    # stopped while a slow candidate (seconds even on an idle machine) has just started: a stop sent as a quick
    # one ends can find nothing running (a busy CI run stopped the job as catboost completed)
    deadline = time.time() + 120
    while time.time() < deadline:
        listed = job["sm"].list_candidates_for_auto_ml_job(AutoMLJobName=JOB, MaxResults=100)["Candidates"]
        statuses = [c["CandidateStatus"] for c in listed]
        if "Completed" in statuses and any(
                c["CandidateStatus"] == "InProgress" and c["CandidateName"].split("-")[-2] in SLOW
                and time.time() - c["CreationTime"].timestamp() < 3 for c in listed):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no slow candidate started while another had completed: {statuses}")
    job["sm"].stop_auto_ml_job(AutoMLJobName=JOB)  # in process: a CLI call's seconds of imports could outlast it
    code, out, err = finish(start(job["env"], "wait", JOB))
    assert code == 0 and out.rstrip().endswith(f"{JOB}: Stopped (Stopped)"), (out, err)
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["rank", "candidate_name", "algorithm", "objective_value", "fit_seconds", "status", "reason"]
    rows = lines[1:lines.index("")]
    assert re.match(rf"\s*1 {JOB}-", rows[0]) and "NaN" not in out
    ranks = [row.split()[0] for row in rows]
    assert all(rank.isdigit() or rank.startswith(f"{JOB}-") for rank in ranks), "whole ranks, or none"
    board = pd.read_csv(job["root"] / "out" / JOB / "leaderboard.csv")
    stopped = board[board["status"] == "Stopped"]
    assert len(stopped) >= 1 and (stopped["failure_reason"] == "stopped by StopAutoMLJob").all()
    for name in stopped["candidate_name"]:
        assert re.search(rf"^\s+{name}\s.*Stopped stopped by StopAutoMLJob$", out, re.M), name


def test_predict_output_formats_and_errors_named_by_flag(job):
    jsonl = job["root"] / "predictions.json"
    written, ghost, missing, nowhere = run_all(
        job["env"],
        ["predict", "--job", JOB, "--input", BREAST_CANCER, "--output", jsonl],
        ["predict", "--job", JOB, "--input", BREAST_CANCER, "--candidate", f"{JOB}-ghost"],
        ["predict", "--job", JOB, "--input", job["root"] / "absent.csv"],
        ["predict", "--job", JOB, "--input", BREAST_CANCER, "--output", job["root"] / "no" / "such" / "p.csv"])
    assert written[0] == 0, written[2]
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 569 and set(rows[0]) == {"predicted_label", "probability", "probabilities", "labels"}
    assert rows[0]["labels"] == ["benign", "malignant"] and len(rows[0]["probabilities"]) == 2
    truth = pd.read_csv(BREAST_CANCER)["diagnosis"]
    assert (pd.Series([r["predicted_label"] for r in rows]) == truth).mean() > 0.9
    assert ghost[0] == 254 and ghost[2] == (f"An error occurred (ValidationException): --candidate: is not a "
                                            f"Completed candidate of job '{JOB}'; got '{JOB}-ghost'\n"), ghost[2]
    assert missing[0] == 254 and missing[2].startswith("An error occurred (ValidationException): --input: "), missing
    code, _, err = nowhere
    assert code == 255 and err.startswith("automl: error: OSError: ") and len(err.splitlines()) == 1, err


def test_a_reader_that_goes_away_ends_the_output_quietly(job):
    bigger = job["root"] / "bigger.csv"  # more than a pipe holds, so the writer is still writing when head leaves
    pd.concat([pd.read_csv(BREAST_CANCER)] * 4).to_csv(bigger, index=False)
    command = (f"{sys.executable} -m automl.cli predict --job {JOB} --input {bigger} | head -2; "
               "echo rc=${PIPESTATUS[0]}")
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails
    listing = start(job["env"], "list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB, stdout=write)
    os.close(write)
    piped = subprocess.run(["bash", "-c", command], cwd=REPO, env=job["env"], capture_output=True, text=True,
                           timeout=180)
    code, _, err = finish(listing)
    assert code == 255 and err == "", err
    lines = piped.stdout.splitlines()
    assert lines[0].startswith("predicted_label,probability") and lines[2] == "rc=255" and piped.stderr == "", (
        piped.stdout, piped.stderr)
