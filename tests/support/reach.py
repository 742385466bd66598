"""What an identity can reach, as questions to AWS's evaluation logic (``tests.support.iam``).

Each ``Reach`` is one thing an attacker holding an identity would want, written as the IAM
requests AWS would authorize for it: a list of ways, any of which is enough, each way a list of
requests that must all be allowed (AWS authorizes every resource of an action: creating a subnet
checks the new subnet and the VPC it goes into). What reaches across stages may also be done by a
role the identity can create: the execution role cannot open a network interface or log in to a
database itself, but a function role it creates, with any policy, might; its stage's permissions
boundary is what must stop it.

The requests state the context AWS would send: the tags of the resource acted on (EC2 sends
both ``aws:ResourceTag`` and ``ec2:ResourceTag``), the tags of the request, the service a role is
passed to. They are written for one account holding both stages (topology b); ``own`` is the
identity's stage and ``other`` the one it must not reach.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

from ops import stages
from tests.support.identities import (
    ACCOUNT,
    CA_SHA256,
    PARTITION,
    REGION,
    Identity,
    cluster_arn,
    secret_arn,
)


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reach:
    key: str
    text: str  # the row of docs/security.md's table
    ways: object  # callable (account, own, other) -> [[Request, ...], ...]
    # Reaches into the other stage, or past the stage's limits: no identity may.
    crosses: bool = True
    # A role the identity can create (under its stage's boundary) counts as the identity.
    through_created_roles: bool = True


def _arn(service, resource, account=ACCOUNT):
    return f"arn:{PARTITION}:{service}:{REGION}:{account}:{resource}"


def ec2(resource):
    return _arn("ec2", resource)


def stack(name):
    return _arn("cloudformation", f"stack/{name}/1")


def role(name):
    return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"


def restapi(stage):
    return f"arn:{PARTITION}:apigateway:{REGION}::/restapis/api-{stage}"


def bucket_arn(account, stage):
    return f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"


def document(name):
    """An SSM document this account owns (``pets-<stage>-host-release``)."""
    return _arn("ssm", f"document/{name}")


def log_group(stage):
    return _arn("logs", f"log-group:/pets/{stage}/patch-events")


def proxy(stage, kind="db-proxy", name=None):
    """The stage's RDS Proxy (``db-proxy``), its read-only endpoint or its target group."""
    generated = {"db-proxy": "prx", "db-proxy-endpoint": "prx-endpoint", "target-group": "prx-tg"}
    return _arn("rds", f"{kind}:{name or generated[kind] + '-' + stage}")


def tagged(stage, ec2_too=True):
    """The context of acting on an existing resource tagged ``stage``."""
    tags = {"aws:ResourceTag/stage": stage}
    if ec2_too:
        tags["ec2:ResourceTag/stage"] = stage
    return tags


def tagging(stage):
    """The context of a request that sets the tag stage=``stage``."""
    return {"aws:RequestTag/stage": stage, "aws:TagKeys": ["stage"]}


def role_it_creates(account, identity, own):
    """A ``pets-<own>-*`` role with any policy: the execution role may create one only under
    its stage's permissions boundary, which is then all it can do."""
    return Identity(
        name=f"a role {identity.name} creates",
        principal=role(f"pets-{own}-made"),
        policies={"anything": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        boundary=account.boundary(own),
    )


def create_role(own):
    boundary = f"arn:{PARTITION}:iam::{ACCOUNT}:policy/pets-boundary-{own}"
    return Request(
        "iam:CreateRole", role(f"pets-{own}-made"), {"iam:PermissionsBoundary": boundary}
    )


# ------------------------------------------------------------------------------ the questions
def _preview(account, own, other):
    return [
        [
            Request("cloudformation:CreateChangeSet", stack(f"pets-{own}-infra")),
            Request(
                "iam:PassRole",
                role(f"pets-cfn-exec-{own}"),
                {"iam:PassedToService": "cloudformation.amazonaws.com"},
            ),
        ]
    ]


def _deploy(account, own, other):
    return [[Request("cloudformation:ExecuteChangeSet", stack(f"pets-{own}-infra"))]]


def _stack_changes(name):
    return [
        [Request(f"cloudformation:{action}", stack(name))]
        for action in ("CreateChangeSet", "ExecuteChangeSet", "UpdateStack", "DeleteStack")
    ]


def _other_stacks(account, own, other):
    return _stack_changes(f"pets-{other}-infra") + _stack_changes(f"pets-{other}-api")


def _own_bootstrap(account, own, other):
    return _stack_changes(account.stack_of_role(f"pets-github-deploy-{own}"))


def _on_host(stage):
    """SendCommand's request on the stage's host, which carries its Patch Group tag."""
    group = {
        "ssm:resourceTag/Patch Group": f"pets-{stage}",
        "aws:ResourceTag/Patch Group": f"pets-{stage}",
    }
    return Request("ssm:SendCommand", ec2(f"instance/i-{stage}"), group)


def _shell(stage):
    return [
        Request("ssm:SendCommand", _arn("ssm", "document/AWS-RunShellScript", account="")),
        _on_host(stage),
    ]


def _own_shell(account, own, other):
    return [_shell(own)]


def _maintenance_window_tasks(account, own, other):
    window = _arn("ssm", f"maintenancewindow/mw-{own}")
    return [
        [Request("ssm:CreateMaintenanceWindow", "*", tagging(own))],
        [Request("ssm:RegisterTaskWithMaintenanceWindow", window, {"aws:ResourceTag/stage": own})],
        [Request("ssm:UpdateMaintenanceWindowTask", window, {"aws:ResourceTag/stage": own})],
    ]


def _other_shell(account, own, other):
    """A shell on the other stage's host: Run Command, an association or a window task (the
    targets of the last two are tag queries IAM never checks)."""
    return [
        _shell(other),
        [
            Request(
                "ssm:CreateAssociation", _arn("ssm", "document/AWS-RunShellScript", account="")
            ),
            Request("ssm:CreateAssociation", _arn("ssm", "association/new")),
        ],
        *_maintenance_window_tasks(account, own, other),
    ]


# Object keys a host or function might read: each prefix, and the API's exact CA bundle key.
OBJECTS = (
    "rds-ca/x.pem",
    "migrations/x.zip",
    "api/x.zip",
    "templates/x",
    "plan/x",
    "patch/x",
    f"rds-ca/{REGION}-{CA_SHA256}.pem",
)


def _trusted_objects(account, simulator, stage):
    """Every object key the stage's host or API function may read."""
    readers = (account.host_role(stage), account.api_role(stage))
    found = []
    for bucket in {account.artifacts_bucket(s) for s in account.stages}:
        for key in OBJECTS:
            resource = f"arn:{PARTITION}:s3:::{bucket}/{key}"
            if any(
                evaluate(simulator, who, Request("s3:GetObject", resource)).allowed
                for who in readers
            ):
                found.append(resource)
    return found


def _write_trusted(account, own, other, simulator):
    return [
        [Request("s3:PutObject", resource)]
        for resource in _trusted_objects(account, simulator, other)
    ]


def _secret(stage):
    return {"aws:ResourceTag/aws:rds:primaryDBClusterArn": cluster_arn(stage)}


def _read_own_secret(account, own, other):
    return [[Request("secretsmanager:GetSecretValue", secret_arn(own), _secret(own))]]


def _connect_own_database(account, own, other):
    user = account.api_database_user(own)
    return [[Request("rds-db:connect", _arn("rds-db", f"dbuser:cluster-{own}/{user}"))]]


def _read_other_secret(account, own, other):
    return [[Request("secretsmanager:GetSecretValue", secret_arn(other), _secret(other))]]


def _change_other_secret(account, own, other):
    return [
        [Request(f"secretsmanager:{action}", secret_arn(other), _secret(other))]
        for action in ("DeleteSecret", "RotateSecret", "PutSecretValue", "UpdateSecret")
    ]


def _connect_other_database(account, own, other):
    user = account.api_database_user(other)
    return [[Request("rds-db:connect", _arn("rds-db", f"dbuser:cluster-{other}/{user}"))]]


def _create_in_other_network(account, own, other):
    new = tagging(own)
    vpc = Request("ec2:CreateSubnet", ec2(f"vpc/vpc-{other}"), tagged(other))

    def tags_at_creation(action, resource):
        return Request("ec2:CreateTags", ec2(resource), {**new, "ec2:CreateAction": action})

    return [
        [
            Request("ec2:CreateSubnet", ec2("subnet/subnet-new"), new),
            vpc,
            tags_at_creation("CreateSubnet", "subnet/subnet-new"),
        ],
        [
            Request("ec2:CreateSecurityGroup", ec2("security-group/sg-new"), new),
            Request("ec2:CreateSecurityGroup", ec2(f"vpc/vpc-{other}"), tagged(other)),
            tags_at_creation("CreateSecurityGroup", "security-group/sg-new"),
        ],
        [
            Request("ec2:CreateRouteTable", ec2("route-table/rtb-new"), new),
            Request("ec2:CreateRouteTable", ec2(f"vpc/vpc-{other}"), tagged(other)),
            tags_at_creation("CreateRouteTable", "route-table/rtb-new"),
        ],
        [
            Request("ec2:RunInstances", ec2("instance/i-new"), new),
            Request("ec2:RunInstances", ec2(f"subnet/subnet-{other}"), tagged(other)),
            Request("ec2:RunInstances", ec2(f"security-group/sg-{other}"), tagged(other)),
            Request("ec2:RunInstances", _arn("ec2", "image/ami-1", account="")),
            Request("ec2:RunInstances", ec2("network-interface/eni-new")),
            Request("ec2:RunInstances", ec2("volume/vol-new")),
            tags_at_creation("RunInstances", "instance/i-new"),
        ],
    ]


def _interface_in_other_subnets(account, own, other):
    """A network interface in the other stage's subnet with its security group: how a function
    (or anything else) placed there reaches that stage's database."""
    return [
        [
            Request("ec2:CreateNetworkInterface", ec2("network-interface/eni-new")),
            Request("ec2:CreateNetworkInterface", ec2(f"subnet/subnet-{other}"), tagged(other)),
            Request("ec2:CreateNetworkInterface", ec2(f"security-group/sg-{other}"), tagged(other)),
        ]
    ]


def _retag_other(account, own, other):
    api = quote(restapi(other), safe="")
    return [
        [
            Request(
                "ec2:CreateTags", ec2(f"subnet/subnet-{other}"), {**tagged(other), **tagging(own)}
            )
        ],
        [
            Request(
                "apigateway:PUT", f"arn:{PARTITION}:apigateway:{REGION}::/tags/{api}", tagging(own)
            )
        ],
        [
            Request(
                "rds:AddTagsToResource",
                _arn("rds", f"cluster:pets-{other}"),
                {"aws:ResourceTag/stage": other, **tagging(own)},
            )
        ],
    ]


def _change_other_api(account, own, other):
    api, tag = restapi(other), {"aws:ResourceTag/stage": other}
    method = f"{api}/resources/abc123/methods/GET"
    return [
        [Request("apigateway:PATCH", api, tag)],
        [Request("apigateway:PUT", api, tag)],
        [Request("apigateway:DELETE", api, tag)],
        [Request("apigateway:PATCH", method, tag)],
    ]


def _read_other_function(account, own, other):
    function = _arn("lambda", f"function:pets-{other}-api-APIHandler-1")
    return [[Request("lambda:GetFunctionConfiguration", function)]]


def _other_documents(account, own, other):
    """A Run Command document of the other stage: changing what its deploy role sends, or
    sending it to the other stage's host."""
    release = document(f"pets-{other}-host-release")
    return [
        [Request("ssm:CreateDocument", document(f"pets-{other}-x"), tagging(own))],
        [Request("ssm:UpdateDocument", release, {"aws:ResourceTag/stage": other})],
        [Request("ssm:DeleteDocument", release, {"aws:ResourceTag/stage": other})],
        [
            Request("ssm:SendCommand", release, {"aws:ResourceTag/stage": other}),
            _on_host(other),
        ],
    ]


def _other_patch_monitoring(account, own, other):
    """The other stage's patch events, metric filters and alarms: silencing what would say its
    host is unpatched."""
    alarm = _arn("cloudwatch", f"alarm:pets-{other}-patch-non-compliant")
    return [
        [Request("events:PutRule", _arn("events", f"rule/pets-{other}-patch-compliance"))],
        [Request("events:DeleteRule", _arn("events", f"rule/pets-{other}-patch-compliance"))],
        [
            Request(
                "events:PutTargets",
                _arn("events", f"rule/pets-{own}-patch-compliance"),
                {"events:TargetArn": [log_group(other)]},
            )
        ],
        [Request("logs:PutMetricFilter", log_group(other))],
        [Request("logs:DeleteMetricFilter", log_group(other))],
        [Request("cloudwatch:PutCompositeAlarm", alarm)],
        [Request("cloudwatch:DeleteAlarms", alarm)],
    ]


def _other_proxy(account, own, other):
    """The other stage's RDS Proxy: deleting it, changing it, or pulling its cluster."""
    tag = {"aws:ResourceTag/stage": other}
    return [
        [Request("rds:ModifyDBProxy", proxy(other), tag)],
        [Request("rds:DeleteDBProxy", proxy(other), tag)],
        [
            Request("rds:CreateDBProxyEndpoint", proxy(other), tag),
            Request("rds:CreateDBProxyEndpoint", proxy(own, "db-proxy-endpoint"), tagging(own)),
        ],
        [Request("rds:DeleteDBProxyEndpoint", proxy(other, "db-proxy-endpoint"), tag)],
        [
            Request("rds:DeregisterDBProxyTargets", proxy(other), tag),
            Request("rds:DeregisterDBProxyTargets", proxy(other, "target-group")),
            Request("rds:DeregisterDBProxyTargets", _arn("rds", f"cluster:pets-{other}"), tag),
            Request("rds:DeregisterDBProxyTargets", _arn("rds", f"db:pets-{other}-1"), tag),
        ],
        # A target group that carries the other stage's tag (RDS documents none for it).
        [Request("rds:ModifyDBProxyTargetGroup", proxy(other, "target-group"), tag)],
    ]


def api_function(stage, qualifier=None):
    """The API function of ``stage`` as CloudFormation names it, or one of its versions/aliases."""
    arn = _arn("lambda", f"function:pets-{stage}-api-APIHandler-GENERATED")
    return f"{arn}:{qualifier}" if qualifier else arn


def deployment_group(stage):
    application = f"pets-{stage}-api-ServerlessDeploymentApplication-1"
    return _arn("codedeploy", f"deploymentgroup:{application}/pets-{stage}-api-APIHandlerGroup-1")


def _other_release(account, own, other):
    """The other stage's releases: what CodeDeploy shifts to, what the hook tests, a deployment
    of its own. (The hook's verdict, PutLifecycleEventHookExecutionStatus, is not asked: the
    evaluator's service data gives that action no resource type, so it cannot be asked about
    the deployment group AWS's own example scopes it to.)"""
    return [
        [Request("lambda:InvokeFunction", api_function(other, "live"))],
        [Request("lambda:InvokeFunction", api_function(other, "7"))],
        [Request("lambda:UpdateAlias", api_function(other, "live"))],
        [Request("lambda:PublishVersion", api_function(other))],
        [Request("codedeploy:CreateDeployment", deployment_group(other))],
        [Request("codedeploy:UpdateDeploymentGroup", deployment_group(other))],
        [
            Request(
                "iam:PassRole",
                role(f"pets-{other}-api-CodeDeployRole-1"),
                {"iam:PassedToService": "codedeploy.amazonaws.com"},
            )
        ],
    ]


def _write_other_bucket(account, own, other):
    keys = (*OBJECTS, "patch-output/ops/x/stdout")
    return [[Request("s3:PutObject", f"{bucket_arn(account, other)}/{key}")] for key in keys]


def _pass_other_roles(account, own, other):
    return [
        [
            Request(
                "iam:PassRole",
                role(f"pets-{other}-infra-DbProxyRole-1"),
                {"iam:PassedToService": "rds.amazonaws.com"},
            )
        ],
        [
            Request(
                "iam:PassRole",
                role(f"pets-{other}-infra-HostRole-1"),
                {"iam:PassedToService": "ec2.amazonaws.com"},
            )
        ],
    ]


def _role_without_boundary(account, own, other):
    return [
        [Request("iam:CreateRole", role(f"pets-{own}-made"))],
        [Request("iam:CreateUser", f"arn:{PARTITION}:iam::{ACCOUNT}:user/made")],
    ]


def _own_other_documents(account, own, other):
    """Any Run Command document but the patch baseline and the release report, on the stage's
    own host."""
    host = _on_host(own)
    documents = (
        _arn("ssm", "document/AWS-RunShellScript", account=""),
        _arn("ssm", "document/AWS-RunRemoteScript", account=""),
        _arn("ssm", "document/AWS-ApplyPatchBaseline", account=""),
    )
    return [
        [Request("ssm:SendCommand", d, {"aws:ResourceTag/stage": own}), host] for d in documents
    ]


def _own_patch(account, own, other):
    return [
        [
            Request("ssm:SendCommand", _arn("ssm", "document/AWS-RunPatchBaseline", account="")),
            _on_host(own),
        ]
    ]


def _own_release_report(account, own, other):
    return [
        [
            Request(
                "ssm:SendCommand",
                document(f"pets-{own}-host-release"),
                {"aws:ResourceTag/stage": own},
            ),
            _on_host(own),
        ]
    ]


def _write_own_trusted(account, own, other, simulator):
    return [
        [Request("s3:PutObject", resource)]
        for resource in _trusted_objects(account, simulator, own)
    ]


def _own_stack_changes(account, own, other):
    """Change what runs: a change set kept for review is not a change until it is executed."""
    return [
        [Request(f"cloudformation:{action}", stack(f"pets-{own}-{part}"))]
        for part in ("infra", "api")
        for action in ("ExecuteChangeSet", "UpdateStack", "DeleteStack", "CreateStack")
    ]


# The rows of docs/security.md's table "What each identity can reach", in order.
REACHES = (
    Reach(
        "preview",
        "Preview a change set of a {own} stack",
        _preview,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "deploy",
        "Execute a change set of a {own} stack",
        _deploy,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "own-stacks",
        "Execute a change set of, update or delete a {own} stack",
        _own_stack_changes,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "own-documents",
        "Send a {own} host any document but AWS-RunPatchBaseline and its release report",
        _own_other_documents,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "own-patch",
        "Run AWS-RunPatchBaseline on the {own} host",
        _own_patch,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "own-release",
        "Run the {own} host's release report (reads its Amazon Linux release)",
        _own_release_report,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "write-own-trusted",
        "Write an object the {own} host or API function reads",
        _write_own_trusted,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "other-stacks",
        "Create, change or delete a {other} stack",
        _other_stacks,
    ),
    Reach(
        "own-bootstrap",
        "Change the bootstrap stack that holds its own roles",
        _own_bootstrap,
    ),
    Reach(
        "own-shell",
        "Run a shell command on the {own} host",
        _own_shell,
        crosses=False,
        through_created_roles=False,
    ),
    Reach(
        "other-shell",
        "Run a shell command on the {other} host",
        _other_shell,
    ),
    Reach(
        "windows",
        "Create a maintenance window or register or change its tasks",
        _maintenance_window_tasks,
    ),
    Reach(
        "write-trusted",
        "Write an object the {other} host or API function reads",
        _write_trusted,
    ),
    Reach(
        "own-secret",
        "Read the {own} database's master secret",
        _read_own_secret,
        crosses=False,
    ),
    Reach(
        "own-database",
        "Log in to the {own} database as its API user",
        _connect_own_database,
        crosses=False,
    ),
    Reach(
        "other-secret",
        "Read the {other} database's master secret",
        _read_other_secret,
    ),
    Reach(
        "change-other-secret",
        "Delete, rotate or overwrite the {other} master secret",
        _change_other_secret,
    ),
    Reach(
        "other-database",
        "Log in to the {other} database as its API user",
        _connect_other_database,
    ),
    Reach(
        "other-network",
        "Create a subnet, route table, security group or instance in the {other} VPC",
        _create_in_other_network,
    ),
    Reach(
        "other-subnets",
        "Open a network interface in a {other} subnet with its security group",
        _interface_in_other_subnets,
    ),
    Reach(
        "retag",
        "Re-tag a {other} resource",
        _retag_other,
    ),
    Reach(
        "other-api",
        "Change the {other} REST API",
        _change_other_api,
    ),
    Reach(
        "other-function",
        "Read the {other} function's configuration",
        _read_other_function,
    ),
    Reach(
        "other-documents",
        "Create, change or send a {other} Run Command document",
        _other_documents,
    ),
    Reach(
        "other-patch-monitoring",
        "Change the {other} patch event rules, metric filters or alarms",
        _other_patch_monitoring,
    ),
    Reach(
        "other-proxy",
        "Change, delete or empty the {other} RDS Proxy",
        _other_proxy,
    ),
    Reach(
        "other-release",
        "Invoke, publish or re-point the {other} API's versions, or deploy one",
        _other_release,
    ),
    Reach(
        "other-bucket",
        "Write anything into the {other} artifacts bucket",
        _write_other_bucket,
    ),
    Reach(
        "pass-other-roles",
        "Pass a {other} role to a service",
        _pass_other_roles,
    ),
    Reach(
        "unbounded-role",
        "Create a role without its stage's permissions boundary, or a user",
        _role_without_boundary,
        through_created_roles=False,
    ),
)


def identities_of(account, stage):
    """Everything a stage's pipeline, hosts, functions and developers act as; the plan role
    belongs to the stage pull requests preview, the release role to the stage that reads host
    releases."""
    found = account.pull_request_roles() if stages.get(stage).previews_pull_requests else []
    if stages.get(stage).reads_host_releases:
        found.append(account.release_role(stage))
    return [
        *found,
        account.preview_role(stage),
        account.drift_role(stage),
        account.patch_role(stage),
        account.deploy_role(stage),
        account.execution_role(stage),
        account.host_role(stage),
        account.api_role(stage),
        account.hook_role(stage),
        account.codedeploy_role(stage),
        account.developer(stage),
    ]


def evaluate(simulator, identity, request):
    return simulator.evaluate(
        request.action,
        request.resource,
        {**identity.context(), **request.context},
        identity=identity.policies,
        boundary=identity.boundary,
        principal=identity.principal,
    )


def ways(account, simulator, reach, own, other):
    if reach.ways in (_write_trusted, _write_own_trusted):
        return reach.ways(account, own, other, simulator)
    return reach.ways(account, own, other)


def _any_way(simulator, who, candidates):
    return any(all(evaluate(simulator, who, r).allowed for r in way) for way in candidates)


def can(account, simulator, identity, reach, own="dev", other="prod"):
    """Whether ``identity`` (of stage ``own``) can do ``reach`` in one of its ways, itself or
    through a role it can create."""
    candidates = ways(account, simulator, reach, own, other)
    if _any_way(simulator, identity, candidates):
        return True
    if reach.through_created_roles and evaluate(simulator, identity, create_role(own)).allowed:
        return _any_way(simulator, role_it_creates(account, identity, own), candidates)
    return False


def reach(key):
    (found,) = [r for r in REACHES if r.key == key]
    return found


# ------------------------------------------------------------------------------ their jobs
# What each identity must still be able to do in its own stage: a policy so tight that a deploy
# fails is no isolation worth having. One list of requests per identity, all to be allowed.
def _execution_role_job(account, stage):
    new, own = tagging(stage), tagged(stage)
    rds_own = {"aws:ResourceTag/stage": stage}

    def tags_at_creation(action, resource):
        return Request("ec2:CreateTags", ec2(resource), {**new, "ec2:CreateAction": action})

    boundary = f"arn:{PARTITION}:iam::{ACCOUNT}:policy/pets-boundary-{stage}"
    host_role = role(f"pets-{stage}-infra-HostRole-1")
    proxy_role = role(f"pets-{stage}-infra-DbProxyRole-1")
    rule = _arn("events", f"rule/pets-{stage}-patch-compliance")
    return [
        Request("ec2:CreateVpc", ec2("vpc/vpc-new"), new),
        tags_at_creation("CreateVpc", "vpc/vpc-new"),
        Request("ec2:CreateSubnet", ec2("subnet/subnet-new"), new),
        Request("ec2:CreateSubnet", ec2(f"vpc/vpc-{stage}"), own),
        Request("ec2:CreateSecurityGroup", ec2("security-group/sg-new"), new),
        Request("ec2:CreateSecurityGroup", ec2(f"vpc/vpc-{stage}"), own),
        Request("ec2:AuthorizeSecurityGroupIngress", ec2(f"security-group/sg-{stage}"), own),
        Request("ec2:AuthorizeSecurityGroupIngress", ec2("security-group-rule/sgr-new")),
        Request("ec2:CreateVpcEndpoint", ec2("vpc-endpoint/vpce-new"), new),
        Request("ec2:CreateVpcEndpoint", ec2(f"vpc/vpc-{stage}"), own),
        Request("ec2:CreateVpcEndpoint", ec2(f"route-table/rtb-{stage}"), own),
        Request("ec2:CreateRoute", ec2(f"route-table/rtb-{stage}"), own),
        Request("ec2:CreateLaunchTemplate", ec2("launch-template/lt-new"), new),
        Request("ec2:RunInstances", ec2("instance/i-new"), new),
        Request("ec2:RunInstances", ec2(f"subnet/subnet-{stage}"), own),
        Request("ec2:RunInstances", ec2(f"security-group/sg-{stage}"), own),
        Request("ec2:RunInstances", ec2(f"launch-template/lt-{stage}"), own),
        Request("ec2:RunInstances", _arn("ec2", "image/ami-1", account="")),
        Request("ec2:RunInstances", ec2("network-interface/eni-new")),
        Request("ec2:RunInstances", ec2("volume/vol-new")),
        tags_at_creation("RunInstances", "instance/i-new"),
        Request("ec2:TerminateInstances", ec2(f"instance/i-{stage}"), own),
        Request("rds:CreateDBSubnetGroup", _arn("rds", f"subgrp:pets-{stage}-db"), new),
        Request("rds:CreateDBCluster", _arn("rds", f"cluster:pets-{stage}"), new),
        Request("rds:CreateDBCluster", _arn("rds", f"subgrp:pets-{stage}-db"), rds_own),
        Request("rds:CreateDBCluster", _arn("rds", f"cluster-pg:pets-{stage}-cpg"), rds_own),
        Request("rds:CreateDBCluster", _arn("rds", "og:default:aurora-mysql-8-0")),
        Request("rds:AddTagsToResource", _arn("rds", f"cluster:pets-{stage}"), new),
        Request("rds:CreateDBInstance", _arn("rds", f"db:pets-{stage}-1"), new),
        Request("rds:CreateDBInstance", _arn("rds", f"cluster:pets-{stage}"), rds_own),
        Request("rds:ModifyDBCluster", _arn("rds", f"cluster:pets-{stage}"), rds_own),
        Request("rds:DeleteDBCluster", _arn("rds", f"cluster:pets-{stage}"), rds_own),
        Request("secretsmanager:CreateSecret", secret_arn(stage)),
        Request("secretsmanager:DeleteSecret", secret_arn(stage), _secret(stage)),
        Request("ssm:CreatePatchBaseline", "*", new),
        Request(
            "ssm:RegisterPatchBaselineForPatchGroup", _arn("ssm", "patchbaseline/pb-1"), rds_own
        ),
        Request("ssm:CreateAssociation", _arn("ssm", "document/AWS-RunPatchBaseline", account="")),
        Request("ssm:CreateAssociation", _arn("ssm", "association/new")),
        Request("apigateway:POST", f"arn:{PARTITION}:apigateway:{REGION}::/restapis", new),
        Request("apigateway:PUT", restapi(stage), rds_own),
        Request("apigateway:PATCH", f"{restapi(stage)}/stages/v1", rds_own),
        Request("lambda:CreateFunction", _arn("lambda", f"function:pets-{stage}-api-Handler-1")),
        Request("iam:CreateRole", host_role, {"iam:PermissionsBoundary": boundary}),
        Request("iam:PassRole", host_role, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Request("logs:CreateLogGroup", _arn("logs", f"log-group:/aws/lambda/pets-{stage}-api-1")),
        Request(
            "s3:GetObject", f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}/api/x.zip"
        ),
        # Releases: a version and the alias `live` per deploy, shifted by CodeDeploy.
        Request("lambda:PublishVersion", api_function(stage)),
        Request("lambda:CreateAlias", api_function(stage)),
        Request("lambda:UpdateAlias", api_function(stage)),
        Request("lambda:AddPermission", api_function(stage, "live")),
        Request(
            "codedeploy:CreateApplication",
            _arn("codedeploy", f"application:pets-{stage}-api-ServerlessDeploymentApplication-1"),
        ),
        Request("codedeploy:CreateDeploymentGroup", deployment_group(stage)),
        Request("codedeploy:CreateDeployment", deployment_group(stage)),
        Request("codedeploy:GetDeployment", deployment_group(stage)),
        Request(
            "codedeploy:GetDeploymentConfig",
            _arn("codedeploy", "deploymentconfig:CodeDeployDefault.LambdaCanary10Percent15Minutes"),
        ),
        Request("codedeploy:StopDeployment", "*"),
        Request(
            "iam:PassRole",
            role(f"pets-{stage}-api-CodeDeployRole-1"),
            {"iam:PassedToService": "codedeploy.amazonaws.com"},
        ),
        # Patching: the release document, the event rules into the stage's log group, the
        # metric filters and the alarms they feed.
        Request("ssm:CreateDocument", document(f"pets-{stage}-host-release"), new),
        Request("ssm:AddTagsToResource", document(f"pets-{stage}-host-release"), new),
        Request("ssm:UpdateDocument", document(f"pets-{stage}-host-release"), rds_own),
        Request(
            "ssm:UpdateDocumentDefaultVersion", document(f"pets-{stage}-host-release"), rds_own
        ),
        Request("events:PutRule", rule),
        Request("events:PutTargets", rule, {"events:TargetArn": [log_group(stage)]}),
        Request("events:DeleteRule", rule),
        Request("logs:CreateLogGroup", log_group(stage)),
        Request("logs:PutMetricFilter", log_group(stage)),
        Request("cloudwatch:PutMetricAlarm", _arn("cloudwatch", f"alarm:pets-{stage}-patch-x")),
        Request("cloudwatch:PutCompositeAlarm", _arn("cloudwatch", f"alarm:pets-{stage}-patch-y")),
        # RDS Proxy (EnableDbProxy): the proxy, its endpoint, its targets, its role.
        Request("rds:CreateDBProxy", "*", new),
        Request("rds:AddTagsToResource", proxy(stage), new),
        Request("rds:CreateDBProxyEndpoint", proxy(stage), rds_own),
        Request("rds:CreateDBProxyEndpoint", proxy(stage, "db-proxy-endpoint"), new),
        Request("rds:RegisterDBProxyTargets", proxy(stage, "target-group")),
        Request("rds:ModifyDBProxyTargetGroup", proxy(stage, "target-group")),
        Request("rds:ModifyDBProxy", proxy(stage), rds_own),
        Request("rds:DeleteDBProxy", proxy(stage), rds_own),
        Request("iam:PassRole", proxy_role, {"iam:PassedToService": "rds.amazonaws.com"}),
    ]


def _deploy_role_job(account, stage):
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    return [
        *_preview(account, stage, None)[0],
        *_deploy(account, stage, None)[0],
        *(Request("s3:PutObject", f"{bucket}/{key}") for key in OBJECTS[:4]),
        *_shell(stage),
        Request("ssm:GetCommandInvocation", "*"),
        # migrate --stage keeps its output in the stage's bucket.
        Request("ssm:SendCommand", bucket),
        # deploy-api fits the API's reserved concurrency into the account's.
        Request("lambda:GetAccountSettings", "*"),
        # One deploy or patch of the stage at a time.
        *_lock(bucket),
    ]


def _plan_role_job(account, stage):
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    return [
        *_preview(account, stage, None)[0],
        Request("cloudformation:DescribeStacks", stack(f"pets-bootstrap-{stage}")),
        Request("cloudformation:GetTemplate", stack(f"pets-{stage}-api")),
        Request("cloudformation:DeleteChangeSet", stack(f"pets-{stage}-api")),
        Request("s3:PutObject", f"{bucket}/plan/templates/x"),
    ]


def _preview_role_job(account, stage):
    """ops preview: the change sets a deploy would make, templates under plan/, and whether
    this build's artifacts are there already (a version to pin)."""
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    newest = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    return [
        *_preview(account, stage, None)[0],
        Request("cloudformation:CreateChangeSet", stack(f"pets-{stage}-api")),
        Request("cloudformation:DescribeStacks", stack(f"pets-bootstrap-{stage}")),
        Request("cloudformation:DescribeStacks", stack(f"pets-{stage}-api")),
        Request("cloudformation:DescribeChangeSet", stack(f"pets-{stage}-infra")),
        Request("cloudformation:GetTemplate", stack(f"pets-{stage}-api")),
        Request("cloudformation:DeleteChangeSet", stack(f"pets-{stage}-api")),
        Request("s3:PutObject", f"{bucket}/plan/templates/x"),
        Request("s3:GetObject", f"{bucket}/plan/templates/x"),
        Request("s3:GetObject", f"{bucket}/api/x.zip"),
        Request("s3:GetObject", f"{bucket}/rds-ca/{REGION}-{CA_SHA256}.pem"),
        Request("s3:GetObject", f"{bucket}/migrations/requirements-{CA_SHA256}.txt"),
        Request("ssm:GetParameter", _arn("ssm", f"parameter{newest}", account="")),
        Request("lambda:GetAccountSettings", "*"),
    ]


def _drift_role_job(account, stage):
    """ops drift: CloudFormation reads every resource of the stacks as the caller."""
    return [
        Request("cloudformation:DetectStackDrift", stack(f"pets-{stage}-infra")),
        Request("cloudformation:DetectStackResourceDrift", stack(f"pets-{stage}-api")),
        Request("cloudformation:DescribeStackDriftDetectionStatus", "*"),
        Request("cloudformation:DescribeStackResourceDrifts", stack(f"pets-{stage}-api")),
        Request("ec2:DescribeSecurityGroups", "*"),
        Request("ec2:DescribeInstances", "*"),
        Request("rds:DescribeDBClusters", _arn("rds", f"cluster:pets-{stage}")),
        Request("iam:GetRole", role(f"pets-{stage}-infra-HostRole-1")),
        Request("lambda:GetFunction", api_function(stage)),
        Request("lambda:GetAlias", api_function(stage)),
        Request("apigateway:GET", restapi(stage)),
        Request("events:DescribeRule", _arn("events", f"rule/pets-{stage}-patch-compliance")),
        Request("logs:DescribeMetricFilters", log_group(stage)),
        Request("ssm:GetDocument", document(f"pets-{stage}-host-release")),
        Request(
            "codedeploy:GetDeploymentGroup",
            _arn(
                "codedeploy",
                f"deploymentgroup:pets-{stage}-api-ServerlessDeploymentApplication-1/g",
            ),
        ),
        Request("rds:DescribeDBProxies", proxy(stage)),
    ]


def _patch_role_job(account, stage):
    """ops patch, ops smoke and ops lock: AWS-RunPatchBaseline on the stage's hosts."""
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    return [
        Request("cloudformation:DescribeStacks", stack(f"pets-{stage}-infra")),
        Request("cloudformation:DescribeStacks", stack(f"pets-{stage}-api")),
        Request("cloudformation:DescribeStacks", stack(f"pets-bootstrap-{stage}")),
        Request("ssm:SendCommand", _arn("ssm", "document/AWS-RunPatchBaseline", account="")),
        _on_host(stage),
        Request("ssm:SendCommand", bucket),
        Request("ssm:GetCommandInvocation", "*"),
        Request("ssm:ListCommandInvocations", "*"),
        Request("ssm:DescribeInstanceInformation", "*"),
        Request("ssm:DescribeInstancePatchStates", ec2(f"instance/i-{stage}")),
        Request("ec2:DescribeInstances", "*"),
        Request("s3:GetObject", f"{bucket}/patch-output/ops/x/stdout"),
        *_lock(bucket),
    ]


def _lock(bucket):
    return [
        Request(f"s3:{action}", f"{bucket}/locks/stage.json")
        for action in ("GetObject", "PutObject", "DeleteObject")
    ]


def _host_role_job(account, stage):
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    return [
        *_read_own_secret(account, stage, None)[0],
        Request("s3:GetObject", f"{bucket}/migrations/x.zip"),
        Request("s3:GetObject", f"{bucket}/rds-ca/x.pem"),
        Request("s3:GetObject", f"{bucket}/migrations/requirements-{CA_SHA256}.txt"),
        Request("ssm:UpdateInstanceInformation", ec2(f"instance/i-{stage}")),
        # The SSM agent keeps the complete output of patch runs in the stage's bucket.
        Request("s3:GetEncryptionConfiguration", bucket),
        Request("s3:PutObject", f"{bucket}/patch-output/install/x/stdout"),
    ]


def _api_role_job(account, stage):
    user = account.api_database_user(stage)
    bucket = f"arn:{PARTITION}:s3:::{account.artifacts_bucket(stage)}"
    return [
        Request("rds-db:connect", _arn("rds-db", f"dbuser:cluster-{stage}/{user}")),
        Request("s3:GetObject", f"{bucket}/rds-ca/{REGION}-{CA_SHA256}.pem"),
        Request("ec2:CreateNetworkInterface", ec2("network-interface/eni-new")),
        Request("ec2:CreateNetworkInterface", ec2(f"subnet/subnet-{stage}"), tagged(stage)),
        Request("ec2:CreateNetworkInterface", ec2(f"security-group/sg-{stage}"), tagged(stage)),
        Request(
            "logs:PutLogEvents",
            _arn("logs", f"log-group:/aws/lambda/pets-{stage}-api-1:log-stream:x"),
        ),
    ]


def _developer_job(account, stage):
    host = account.stack(f"pets-{stage}-infra").ref("Host")
    forwarding = _arn("ssm", "document/AWS-StartPortForwardingSessionToRemoteHost", account="")
    check = {"ssm:SessionDocumentAccessCheck": "true"}
    return [
        Request("rds-db:connect", _arn("rds-db", f"dbuser:cluster-{stage}/dev_alice")),
        Request("ssm:StartSession", ec2(f"instance/{host}"), check),
        Request("ssm:StartSession", forwarding, check),
    ]


def _hook_role_job(account, stage):
    hook_logs = f"log-group:/aws/lambda/pets-{stage}-api-PreTrafficHook-1:log-stream:x"
    return [
        Request("lambda:InvokeFunction", api_function(stage, "7")),
        Request("logs:PutLogEvents", _arn("logs", hook_logs)),
    ]


def _codedeploy_role_job(account, stage):
    hook = _arn("lambda", f"function:pets-{stage}-api-PreTrafficHook-GENERATED")
    return [
        Request("lambda:GetAlias", api_function(stage, "live")),
        Request("lambda:UpdateAlias", api_function(stage, "live")),
        Request("lambda:InvokeFunction", hook),
        Request(
            "cloudwatch:DescribeAlarms",
            _arn("cloudwatch", f"alarm:pets-{stage}-api-Api5xxRateAlarm-GENERATED"),
        ),
    ]


JOBS = {
    "execution role": (lambda account, stage: account.execution_role(stage), _execution_role_job),
    "deploy role": (lambda account, stage: account.deploy_role(stage), _deploy_role_job),
    "preview role": (lambda account, stage: account.preview_role(stage), _preview_role_job),
    "drift role": (lambda account, stage: account.drift_role(stage), _drift_role_job),
    "patch role": (lambda account, stage: account.patch_role(stage), _patch_role_job),
    "host role": (lambda account, stage: account.host_role(stage), _host_role_job),
    "API role": (lambda account, stage: account.api_role(stage), _api_role_job),
    "PreTraffic hook role": (lambda account, stage: account.hook_role(stage), _hook_role_job),
    "CodeDeploy role": (
        lambda account, stage: account.codedeploy_role(stage),
        _codedeploy_role_job,
    ),
    "developer": (lambda account, stage: account.developer(stage), _developer_job),
}
