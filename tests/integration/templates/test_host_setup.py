"""The host's setup in cloudformation/infra.yaml: cfn-init, its signal, cfn-hup, the pinned
release and the migration runner's venv.

The template is read as CloudFormation reads it; ``pets-venv``, the one script the setup and
``migrate --stage`` share, is taken out of the template and run under ``sh`` with a stand-in
python, so what it does (build once per requirements content, reuse, retry after a failure) is
tested, not how it is written.
"""

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from ops import stages
from tests.support.templates import props

VENV_TOOL = "/usr/local/bin/pets-venv"


def init(infra):
    return infra["Resources"]["Host"]["Metadata"]["AWS::CloudFormation::Init"]


def user_data(infra):
    return props(infra, "Host")["UserData"]["Fn::Base64"]["Fn::Sub"]


def test_the_stack_waits_for_the_hosts_signal(infra):
    policy = infra["Resources"]["Host"]["CreationPolicy"]["ResourceSignal"]
    assert policy["Count"] == 1
    minutes = int(re.fullmatch(r"PT(\d+)M", policy["Timeout"]).group(1))
    assert 10 <= minutes <= 60  # room for dnf and pip on a micro instance; not the default 5


def test_user_data_runs_cfn_init_boot_and_signals_its_exit_status(infra):
    lines = user_data(infra).splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "set -e" not in user_data(infra)  # a failing cfn-init must still reach cfn-signal
    install = next(i for i, line in enumerate(lines) if "dnf install -y aws-cfn-bootstrap" in line)
    run = next(i for i, line in enumerate(lines) if line.startswith("/opt/aws/bin/cfn-init "))
    signal = next(i for i, line in enumerate(lines) if line.startswith("/opt/aws/bin/cfn-signal "))
    assert install < run < signal
    assert "--resource Host --configsets boot" in lines[run]
    assert lines[run + 1] == "status=$?"
    assert '-e "$status"' in lines[signal]
    assert "--resource Host" in lines[signal]
    assert "--reason" in lines[signal]


def test_boot_sets_everything_up_and_a_metadata_change_reapplies_all_but_cfn_hup(infra):
    config_sets = init(infra)["configSets"]
    assert config_sets["boot"] == ["release", "python", "runner", "hup"]
    # cfn-hup runs the update set itself: restarting cfn-hup from it would stop the run.
    assert config_sets["update"] == ["release", "python", "runner"]
    files = init(infra)["hup"]["files"]
    hook = files["/etc/cfn/hooks.d/pets-host.conf"]["content"]["Fn::Sub"]
    assert "triggers=post.update" in hook
    assert "path=Resources.Host.Metadata.AWS::CloudFormation::Init" in hook
    assert "--resource Host --configsets update" in hook
    conf = files["/etc/cfn/cfn-hup.conf"]["content"]["Fn::Sub"]
    assert "stack=${AWS::StackId}" in conf
    assert int(re.search(r"interval=(\d+)", conf).group(1)) <= 15
    unit = files["/etc/systemd/system/cfn-hup.service"]["content"]
    assert "ExecStart=/opt/aws/bin/cfn-hup" in unit
    assert "WantedBy=multi-user.target" in unit
    start = init(infra)["hup"]["commands"]["1-start"]["command"]
    assert "systemctl enable --now cfn-hup.service" in start


def test_dnf_reads_the_pinned_release_before_python_is_installed(infra):
    release = init(infra)["release"]["files"]["/etc/dnf/vars/releasever"]
    assert release["content"] == {"Fn::Sub": "${HostOsRelease}\n"}
    python = init(infra)["python"]["commands"]["1-install"]["command"]
    # The project's one Python (.python-version): the migration bundle runs on it here.
    version = (stages.ROOT / ".python-version").read_text().strip()
    assert python == f"dnf install -y python{version} python{version}-pip"
    boot = init(infra)["configSets"]["boot"]
    assert boot.index("release") < boot.index("python") < boot.index("runner")


def test_the_pinned_release_ops_sends_is_one_the_template_accepts(infra):
    pattern = re.compile(infra["Parameters"]["HostOsRelease"]["AllowedPattern"])
    for stage in stages.NAMES:
        sent = stages.stack(stage, "infra").parameters["HostOsRelease"]
        assert pattern.fullmatch(sent), sent
    assert "Default" not in infra["Parameters"]["HostOsRelease"]  # always sent, never stale
    assert not pattern.fullmatch("latest")  # AWS advises against releasever=latest
    assert not pattern.fullmatch("2023.9.2025111")


def test_the_requirements_key_is_content_addressed_in_the_stages_own_bucket(infra):
    pattern = re.compile(infra["Parameters"]["HostRequirementsKey"]["AllowedPattern"])
    data = (stages.ROOT / "requirements-migrate.txt").read_bytes()
    for stage in stages.NAMES:
        key = stages.stack(stage, "infra").parameters["HostRequirementsKey"]
        assert pattern.fullmatch(key), key
        assert key == f"migrations/requirements-{hashlib.sha256(data).hexdigest()}.txt"
    assert not pattern.fullmatch("migrations/dev/requirements-" + "0" * 64 + ".txt")
    # The host may read these keys already (migrations/ of its stage's own bucket).
    readable = [
        r["Fn::Sub"][0]
        for policy in props(infra, "HostRole")["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        if "s3:GetObject" in s["Action"]
        for r in s["Resource"]
    ]
    assert any(r.endswith(":::${Bucket}/migrations/*") for r in readable)


def _evaluate(node, parameters):
    """The value of Fn::Select / Fn::Split / Ref as CloudFormation computes them."""
    if isinstance(node, dict):
        ((name, value),) = node.items()
        if name == "Ref":
            return parameters[value]
        if name == "Fn::Split":
            return _evaluate(value[1], parameters).split(value[0])
        if name == "Fn::Select":
            return _evaluate(value[1], parameters)[int(value[0])]
        raise AssertionError(f"not evaluated here: {name}")
    return node


def test_the_host_checks_the_requirements_against_the_digest_in_their_key(infra):
    command = init(infra)["runner"]["commands"]["1-requirements"]["command"]["Fn::Sub"]
    script, values = command
    digest = hashlib.sha256(b"PyMySQL==1.2.4\n").hexdigest()
    key = f"migrations/requirements-{digest}.txt"
    assert _evaluate(values["Digest"], {"HostRequirementsKey": key}) == digest
    assert "s3://${Bucket}/${HostRequirementsKey}" in script
    lines = script.splitlines()
    check = next(i for i, line in enumerate(lines) if "sha256sum --check" in line)
    move = next(i for i, line in enumerate(lines) if line.startswith("mv "))
    assert lines[0] == "set -eu" and check < move  # nothing unchecked reaches the venv
    assert "${Digest}" in lines[check]
    venv = init(infra)["runner"]["commands"]["2-venv"]["command"]
    assert venv == f"{VENV_TOOL} /etc/pets/requirements-migrate.txt"


# --------------------------------------------------------------------- pets-venv, run for real
FAKE_PYTHON = """#!/bin/sh
# Stands in for python3.12: `-m venv DIR` makes DIR/bin/python, which logs each pip call and
# fails when $PIP_FAILS is set.
[ "$1 $2" = "-m venv" ] || exit 2
mkdir -p "$3/bin"
cat > "$3/bin/python" <<'EOF'
#!/bin/sh
echo "$*" >> "$PIP_LOG"
[ -z "${PIP_FAILS:-}" ]
EOF
chmod +x "$3/bin/python"
"""


@pytest.fixture
def venv_tool(infra, tmp_path):
    content = init(infra)["runner"]["files"][VENV_TOOL]["content"]
    tool = tmp_path / "pets-venv"
    tool.write_text(content)
    tool.chmod(0o755)
    python = tmp_path / "python3.12"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    shell = "/bin/dash" if Path("/bin/dash").exists() else "/bin/sh"  # POSIX sh, no bashisms

    def run(requirements, **extra):
        env = {
            "PATH": os.environ["PATH"],
            "PETS_VENV_ROOT": str(tmp_path / "venvs"),
            "PETS_PYTHON": str(python),
            "PIP_LOG": str(tmp_path / "pip.log"),
            **extra,
        }
        return subprocess.run(
            [shell, str(tool), str(requirements)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    return run


def _pip_calls(tmp_path):
    log = tmp_path / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_pets_venv_builds_once_per_requirements_content_and_prints_the_venv(venv_tool, tmp_path):
    first = tmp_path / "a.txt"
    first.write_text("PyMySQL==1.2.4\n")
    expected = tmp_path / "venvs" / f"venv-{hashlib.sha256(first.read_bytes()).hexdigest()[:16]}"

    done = venv_tool(first)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{expected}\n"  # the only thing on stdout: callers read it
    assert (expected / ".complete").exists()
    assert len(_pip_calls(tmp_path)) == 1
    assert _pip_calls(tmp_path)[0].endswith(f"-r {first}")
    # Every file pip installs must match a hash the (hash-pinned) requirements list.
    assert "--require-hashes" in _pip_calls(tmp_path)[0].split()

    again = venv_tool(first)
    assert again.stdout == done.stdout
    assert len(_pip_calls(tmp_path)) == 1  # reused: pip does not run again

    copy = tmp_path / "same-content.txt"
    copy.write_bytes(first.read_bytes())
    assert venv_tool(copy).stdout == done.stdout  # named by content, not by path

    other = tmp_path / "b.txt"
    other.write_text("PyMySQL==1.2.5\n")
    built = venv_tool(other)
    assert built.stdout.strip() != str(expected)
    assert len(_pip_calls(tmp_path)) == 2


def test_pets_venv_fails_when_pip_fails_and_builds_again_next_time(venv_tool, tmp_path):
    requirements = tmp_path / "r.txt"
    requirements.write_text("PyMySQL==1.2.4\n")

    failed = venv_tool(requirements, PIP_FAILS="1")
    assert failed.returncode != 0
    assert failed.stdout == ""  # no venv path for a caller to use
    assert not list((tmp_path / "venvs").glob("venv-*/.complete"))

    done = venv_tool(requirements)
    assert done.returncode == 0, done.stderr
    assert len(_pip_calls(tmp_path)) == 2
