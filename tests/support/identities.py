"""The IAM identities the templates create, as IAM would see them in one account.

``Account`` loads every template as the stacks ops deploys from it (the bootstrap templates,
``infra.yaml`` and the API's merge fragment, for each stage), resolves the intrinsics their IAM
parts use (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::ImportValue`` through the stacks' exports,
``Fn::If`` with the stacks' parameters) and hands out identities: a principal ARN, its identity
policies (inline, customer managed and the AWS managed ones it attaches), its permissions
boundary and its tags. ``tests.support.iam`` then asks AWS's evaluation logic what they may do.

Identities are found by what they are, never by a template's logical IDs, so the same questions
can be asked of another revision of the templates: the plan role is the role GitHub pull
requests may assume; a stage's deploy and execution roles are the roles ops names
``pets-github-deploy-<stage>`` and ``pets-cfn-exec-<stage>``; its host, API and developer
identities are those of its infra and API stacks.

Generated physical IDs are made up, one per logical ID and stage (``vpc-dev``), with the shapes
the policies need: the cluster resource ID ``cluster-<stage>``, the master secret
``rds!cluster-<stage>-…`` tagged by RDS with its cluster's ARN.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tests.support.templates import TEMPLATES, as_list, load, statements, walk

ACCOUNT = "111122223333"
REGION = "us-east-1"
PARTITION = "aws"
OWNER, REPO = "acme", "pets"
CA_SHA256 = "c" * 64  # the digest deploy-api passes the API stack (DbSslCaSha256)
AWS_POLICY = "arn:aws:iam::aws:policy/"

# The AWS managed policies the templates attach, as AWS publishes them (every statement is on
# "*"): https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ (one page per policy).
AWS_MANAGED = {
    "AmazonSSMManagedInstanceCore": [
        "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance",
        "ssm:GetDocument", "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter",
        "ssm:GetParameters", "ssm:ListAssociations", "ssm:ListInstanceAssociations",
        "ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
        "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus",
        "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage",
        "ec2messages:DeleteMessage", "ec2messages:FailMessage", "ec2messages:GetEndpoint",
        "ec2messages:GetMessages", "ec2messages:SendReply",
    ],
    "service-role/AWSLambdaVPCAccessExecutionRole": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ],
    "AWSXRayDaemonWriteAccess": [
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries",
    ],
}  # fmt: skip


@dataclass
class Identity:
    name: str
    principal: str
    policies: dict  # {name: document}
    boundary: dict | None = None
    tags: dict = field(default_factory=dict)

    def context(self):
        return {f"aws:PrincipalTag/{key}": value for key, value in self.tags.items()}


class Stack:
    """One template deployed as one stack: its parameters, resources and exports, resolved."""

    def __init__(self, account, path, name, stage, parameters):
        self.account, self.path, self.name, self.stage = account, path, name, stage
        self.template = load(path)
        declared = self.template.get("Parameters") or {}
        self.parameters = {
            key: str(spec["Default"]) for key, spec in declared.items() if "Default" in spec
        }
        self.parameters.update({k: v for k, v in parameters.items() if k in declared})
        self.resources = self.template["Resources"]

    # ------------------------------------------------------------------ conditions, names
    def condition(self, name):
        return bool(self.resolve(self.template["Conditions"][name]))

    def exists(self, logical_id):
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def physical_id(self, logical_id):
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties") or {}
        named = {
            "AWS::IAM::Role": "RoleName",
            "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::RDS::DBCluster": "DBClusterIdentifier",
        }.get(kind)
        if named and named in props:
            return self.resolve(props[named])
        generated = f"{self.name}-{logical_id}-GENERATED"
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{generated}"
        if kind in ("AWS::IAM::Role", "AWS::S3::Bucket"):
            return generated.lower() if kind == "AWS::S3::Bucket" else generated
        return f"{logical_id.lower()}-{self.stage or 'account'}"

    def ref(self, name):
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        value = self.physical_id(name)
        if self.resources[name]["Type"] == "AWS::IAM::ManagedPolicy" and ":" not in value:
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{value}"
        return value

    def get_att(self, logical_id, attribute):
        kind = self.resources[logical_id]["Type"]
        name = self.physical_id(logical_id)
        if attribute == "Arn" and kind == "AWS::IAM::Role":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"
        # Functions and alarms without a name get CloudFormation's <stack>-<logical id>-<suffix>.
        generated = f"{self.name}-{logical_id}-GENERATED"
        if attribute == "Arn" and kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{generated}"
        if attribute == "Arn" and kind == "AWS::CloudWatch::Alarm":
            return f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{generated}"
        if attribute == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:{PARTITION}:s3:::{name}"
        if kind == "AWS::RDS::DBCluster" and attribute == "DBClusterResourceId":
            return f"cluster-{self.stage}"
        if kind == "AWS::RDS::DBCluster" and attribute == "MasterUserSecret.SecretArn":
            return secret_arn(self.stage)
        return f"{logical_id}.{attribute}"

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, node):
        if isinstance(node, list):
            return [self.resolve(value) for value in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            return {key: self.resolve(value) for key, value in node.items()}
        ((function, value),) = node.items()
        if function == "Ref":
            return self.ref(value)
        if function == "Condition":
            return self.condition(value)
        if function == "Fn::GetAtt":
            logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
            return self.get_att(logical_id, attribute)
        if function == "Fn::Sub":
            text, extra = (value, {}) if isinstance(value, str) else value
            return self._sub(text, self.resolve(extra))
        if function == "Fn::If":
            name, yes, no = value
            return self.resolve(yes if self.condition(name) else no)
        if function == "Fn::Equals":
            left, right = self.resolve(value)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(value[0])
        if function == "Fn::And":
            return all(self.resolve(value))
        if function == "Fn::Or":
            return any(self.resolve(value))
        if function == "Fn::ImportValue":
            return self.account.export(self.resolve(value))
        if function == "Fn::Join":
            separator, parts = value
            return separator.join(str(p) for p in self.resolve(parts))
        raise AssertionError(f"{self.path}: cannot resolve {function}")

    def _sub(self, text, extra):
        def one(match):
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"  # ${!literal} is the literal ${literal}
            if expression in extra:
                return str(extra[expression])
            if "." in expression and expression.split(".", 1)[0] in self.resources:
                return str(self.get_att(*expression.split(".", 1)))
            return str(self.ref(expression))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def exports(self):
        found = {}
        for output in (self.template.get("Outputs") or {}).values():
            if "Export" in output and (
                "Condition" not in output or self.condition(output["Condition"])
            ):
                found[self.resolve(output["Export"]["Name"])] = output.get("Value")
        return found


def secret_arn(stage):
    return f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!cluster-{stage}-a1B2c3"


def cluster_arn(stage):
    return f"arn:{PARTITION}:rds:{REGION}:{ACCOUNT}:cluster:pets-{stage}"


class Account:
    """Every stack of ``stages`` in one AWS account (topology b), as ops deploys them."""

    def __init__(self, stages, parameters=None, root=TEMPLATES):
        self.root = Path(root)
        self.stages = tuple(stages)
        extra = parameters or (lambda stage: {})
        self.stacks = []
        for path in sorted(self.root.glob("bootstrap*.yaml")):
            if "Stage" in (load(path).get("Parameters") or {}):
                for stage in self.stages:
                    self._add(path, f"pets-bootstrap-{stage}", stage, extra(stage))
            else:
                self._add(path, "pets-bootstrap", None, extra(None))
        for stage in self.stages:
            self._add(self.root / "infra.yaml", f"pets-{stage}-infra", stage, extra(stage))
            self._add(self.root / "api" / "merge.yaml", f"pets-{stage}-api", stage, extra(stage))

    def _add(self, path, name, stage, parameters):
        base = {
            "Stage": stage or "",
            "GitHubOrg": OWNER,
            "GitHubRepo": REPO,
            "DbSslCaSha256": CA_SHA256,
        }
        self.stacks.append(Stack(self, path, name, stage, {**base, **parameters}))

    def stack(self, name):
        (found,) = [s for s in self.stacks if s.name == name]
        return found

    @cached_property
    def _exports(self):
        return {
            name: (stack, value) for stack in self.stacks for name, value in stack.exports().items()
        }

    def export(self, name):
        assert name in self._exports, f"no stack exports {name}"
        stack, value = self._exports[name]
        return stack.resolve(value)

    # ------------------------------------------------------------------ policies
    def managed_policy(self, arn):
        if arn.startswith(AWS_POLICY):
            actions = AWS_MANAGED[arn.removeprefix(AWS_POLICY)]
            return {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                if (
                    resource["Type"] == "AWS::IAM::ManagedPolicy"
                    and stack.exists(logical_id)
                    and stack.ref(logical_id) == arn
                ):
                    return stack.resolve(resource["Properties"]["PolicyDocument"])
        raise AssertionError(f"no template creates the managed policy {arn}")

    def _identity(self, stack, logical_id, name):
        props = stack.resources[logical_id]["Properties"]
        policies = {}
        for arn in props.get("ManagedPolicyArns", []):
            arn = stack.resolve(arn)
            policies[arn.rsplit("/", 1)[1]] = self.managed_policy(arn)
        for policy in props.get("Policies", []):
            policies[policy["PolicyName"]] = stack.resolve(policy["PolicyDocument"])
        boundary = props.get("PermissionsBoundary")
        tags = {t["Key"]: stack.resolve(t["Value"]) for t in props.get("Tags", [])}
        return Identity(
            name=name,
            principal=stack.get_att(logical_id, "Arn"),
            policies=policies,
            boundary=self.managed_policy(stack.resolve(boundary)) if boundary else None,
            tags=tags,
        )

    def _roles(self):
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                if resource["Type"] == "AWS::IAM::Role" and stack.exists(logical_id):
                    yield stack, logical_id

    def role(self, role_name, name=None):
        """The role named ``role_name`` by whichever stack creates it."""
        for stack, logical_id in self._roles():
            if stack.physical_id(logical_id) == role_name:
                return self._identity(stack, logical_id, name or role_name)
        raise AssertionError(f"no template creates the role {role_name}")

    def stack_of_role(self, role_name):
        """The name of the stack that creates the role named ``role_name``."""
        for stack, logical_id in self._roles():
            if stack.physical_id(logical_id) == role_name:
                return stack.name
        raise AssertionError(f"no template creates the role {role_name}")

    def trust(self, role_name):
        """The resolved trust policy of the role named ``role_name``."""
        for stack, logical_id in self._roles():
            if stack.physical_id(logical_id) == role_name:
                return stack.resolve(
                    stack.resources[logical_id]["Properties"]["AssumeRolePolicyDocument"]
                )
        raise AssertionError(f"no template creates the role {role_name}")

    def pull_request_roles(self):
        """Every role a GitHub pull-request job may assume (its trust names ``pull_request``)."""
        found = []
        for stack, logical_id in self._roles():
            trust = stack.resolve(
                stack.resources[logical_id]["Properties"]["AssumeRolePolicyDocument"]
            )
            subjects = [
                value
                for statement in statements(trust)
                for operator in (statement.get("Condition") or {}).values()
                for key, values in operator.items()
                if key.endswith(":sub")
                for value in as_list(values)
            ]
            if any(":pull_request" in subject for subject in subjects):
                found.append(self._identity(stack, logical_id, "plan role"))
        return found

    # ------------------------------------------------------------------ a stage's identities
    def execution_role(self, stage):
        return self.role(f"pets-cfn-exec-{stage}", f"{stage} execution role")

    def deploy_role(self, stage):
        return self.role(f"pets-github-deploy-{stage}", f"{stage} deploy role")

    def preview_role(self, stage):
        return self.role(f"pets-github-preview-{stage}", f"{stage} preview role")

    def drift_role(self, stage):
        return self.role(f"pets-github-drift-{stage}", f"{stage} drift role")

    def patch_role(self, stage):
        return self.role(f"pets-github-patch-{stage}", f"{stage} patch role")

    def release_role(self, stage):
        return self.role(f"pets-github-release-{stage}", "release role")

    def host_role(self, stage):
        stack = self.stack(f"pets-{stage}-infra")
        return self._identity(stack, "HostRole", f"{stage} host role")

    def api_role(self, stage):
        stack = self.stack(f"pets-{stage}-api")
        return self._identity(stack, "ApiHandlerRole", f"{stage} API role")

    def hook_role(self, stage):
        """The PreTraffic hook's role: it tests a new API version before traffic moves."""
        stack = self.stack(f"pets-{stage}-api")
        return self._identity(stack, "PreTrafficHookRole", f"{stage} PreTraffic hook role")

    def codedeploy_role(self, stage):
        """The role CodeDeploy moves the API's alias as."""
        stack = self.stack(f"pets-{stage}-api")
        return self._identity(stack, "CodeDeployRole", f"{stage} CodeDeploy role")

    def developer(self, stage):
        stack = self.stack(f"pets-{stage}-infra")
        document = stack.resolve(
            stack.resources["DeveloperAccessPolicy"]["Properties"]["PolicyDocument"]
        )
        return Identity(
            name=f"developer with the {stage} access policy",
            principal=f"arn:{PARTITION}:iam::{ACCOUNT}:user/alice",
            policies={"DeveloperAccessPolicy": document},
        )

    def boundary(self, stage):
        return self.managed_policy(f"arn:{PARTITION}:iam::{ACCOUNT}:policy/pets-boundary-{stage}")

    def artifacts_bucket(self, stage):
        """The bucket the stage's infra stack imports (what its host and function read)."""
        stack = self.stack(f"pets-{stage}-infra")
        names = {
            stack.resolve(value)
            for _, key, value in walk(stack.template["Resources"])
            if key == "Fn::ImportValue"
        }
        (bucket,) = [self.export(n) for n in names if n.endswith("-ArtifactsBucket")]
        return bucket

    def api_database_user(self, stage):
        """The database user the stage's API function logs in as (its DB_USER)."""
        stack = self.stack(f"pets-{stage}-api")
        variables = stack.resources["APIHandler"]["Properties"]["Environment"]["Variables"]
        return stack.resolve(variables["DB_USER"])
