"""The infra template's security and cost properties, read from the template itself.

Each test states a property the stage needs and fails if an edit breaks it: a public
database, IMDSv1, an open port, a literal password, a lost snapshot policy, two subnets in one AZ,
a NAT gateway, a patch baseline that approves the wrong updates.
"""

import re

import pytest

from ops import stages
from ops.cfn import templates as cfn_templates
from tests.support.templates import (
    TEMPLATES,
    as_list,
    ingress_rules,
    load,
    props,
    resources,
    statements,
    walk,
)

ALL_TEMPLATES = ("bootstrap-account.yaml", "bootstrap-stage.yaml", "infra.yaml")


def test_database_instances_are_not_publicly_accessible(infra):
    instances = resources(infra, "AWS::RDS::DBInstance")
    assert instances, "the cluster needs at least one instance"
    for name, instance in instances.items():
        assert instance["Properties"]["PubliclyAccessible"] is False, name


def test_database_lives_only_in_the_private_subnets(infra):
    subnet_group = props(infra, "DbSubnetGroup")
    assert subnet_group["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    private_routes = [
        route
        for route in resources(infra, "AWS::EC2::Route").values()
        if route["Properties"]["RouteTableId"] == {"Ref": "PrivateRouteTable"}
    ]
    assert private_routes == [], "the private subnets must have no route out of the VPC"


def test_private_subnets_are_in_two_distinct_azs_from_getazs(infra):
    zones = [
        props(infra, name)["AvailabilityZone"] for name in ("PrivateSubnetA", "PrivateSubnetB")
    ]
    assert zones == [
        {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
    ]
    # No hard-coded zone anywhere.
    for _path, key, value in walk(infra["Resources"]):
        if key == "AvailabilityZone":
            assert isinstance(value, dict) and "Fn::Select" in value, value


def test_no_subnet_hands_out_public_ips_and_only_the_host_asks_for_one(infra):
    for name, subnet in resources(infra, "AWS::EC2::Subnet").items():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False, name
    interfaces = props(infra, "Host")["NetworkInterfaces"]
    assert interfaces[0]["SubnetId"] == {"Ref": "PublicSubnet"}
    assert interfaces[0]["AssociatePublicIpAddress"] is True


def test_no_nat_gateway_and_a_gateway_endpoint_for_s3_on_the_private_route_table(infra):
    assert resources(infra, "AWS::EC2::NatGateway") == {}
    endpoints = resources(infra, "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 1
    (endpoint,) = endpoints.values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"  # free, unlike Interface
    assert endpoint["Properties"]["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert endpoint["Properties"]["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    (statement,) = statements(endpoint["Properties"]["PolicyDocument"])
    # Only reads of the CA bundle, by key or by the exact version DB_SSL_CA names.
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statement["Resource"]["Fn::Sub"][0].endswith("/rds-ca/*")


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_nothing_accepts_traffic_from_the_internet(name):
    template = load(name)
    for group, rule in ingress_rules(template):
        assert rule.get("CidrIp") != "0.0.0.0/0", (group, rule)
        assert rule.get("CidrIpv6") != "::/0", (group, rule)


def test_host_and_api_groups_have_no_inbound_rule_at_all(infra):
    accepting = [{"Ref": "DbSecurityGroup"}, {"Ref": "DbProxySecurityGroup"}]
    for group, _rule in ingress_rules(infra):
        assert group in accepting, f"only the database and its proxy accept connections: {group}"


def test_database_accepts_mysql_only_from_the_api_host_and_proxy_groups(infra):
    rules = [rule for group, rule in ingress_rules(infra) if group == {"Ref": "DbSecurityGroup"}]
    sources = sorted(rule["SourceSecurityGroupId"]["Ref"] for rule in rules)
    assert sources == ["ApiSecurityGroup", "DbProxySecurityGroup", "HostSecurityGroup"]
    for rule in rules:
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 3306, 3306)
        assert not {"CidrIp", "CidrIpv6", "SourcePrefixListId"} & set(rule)


def test_host_requires_imdsv2(infra):
    host = props(infra, "Host")
    assert host["LaunchTemplate"]["LaunchTemplateId"] == {"Ref": "HostLaunchTemplate"}
    metadata = props(infra, "HostLaunchTemplate")["LaunchTemplateData"]["MetadataOptions"]
    assert metadata["HttpTokens"] == "required"
    assert metadata["HttpPutResponseHopLimit"] == 1


def test_host_has_encrypted_root_no_key_pair_and_its_image_from_a_typed_parameter(infra):
    host = props(infra, "Host")
    assert "KeyName" not in host
    data = props(infra, "HostLaunchTemplate")["LaunchTemplateData"]
    assert "KeyName" not in data
    (root,) = data["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    # A typed SSM parameter, not a {{resolve:ssm}} reference: CloudFormation reads it at every
    # change set, so a new image shows there as a replacement of the host.
    assert host["ImageId"] == {"Ref": "HostImage"}
    image = infra["Parameters"]["HostImage"]
    assert image["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert image["Default"] == (
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    assert infra["Parameters"]["HostInstanceType"]["Default"].startswith("t4g.")  # arm64 too
    assert not any(
        isinstance(value, str) and "{{resolve:ssm" in value for _, _, value in walk(infra)
    )


def test_host_role_is_ssm_plus_the_master_secret_and_its_migration_bundles(infra):
    role = props(infra, "HostRole")
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]
    granted = {}
    for policy in role["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                granted[action] = statement["Resource"]
    assert set(granted) == {
        "secretsmanager:GetSecretValue",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:GetEncryptionConfiguration",
    }
    # The deploy names the exact object version of a bundle: both reads cover the same keys.
    assert granted["s3:GetObjectVersion"] == granted["s3:GetObject"]
    assert granted["secretsmanager:GetSecretValue"] == {
        "Fn::GetAtt": ["DbCluster", "MasterUserSecret.SecretArn"]
    }
    keys = sorted(
        resource["Fn::Sub"][0].split(":::${Bucket}/")[1] for resource in granted["s3:GetObject"]
    )
    assert keys == ["migrations/*", "rds-ca/*"]
    # It writes only the full output of patch runs (the SSM agent uploads it).
    assert granted["s3:PutObject"]["Fn::Sub"][0].endswith(":::${Bucket}/patch-output/*")
    assert granted["s3:GetEncryptionConfiguration"]["Fn::Sub"][0].endswith(":::${Bucket}")


def test_host_and_patch_baseline_share_the_patch_group(infra):
    tags = {tag["Key"]: tag["Value"] for tag in props(infra, "Host")["Tags"]}
    group = tags["Patch Group"]
    assert group == {"Fn::Sub": "pets-${Stage}"}
    assert props(infra, "PatchBaseline")["PatchGroups"] == [group]
    assert infra["Outputs"]["PatchGroup"]["Value"] == group
    for name in ("PatchScanAssociation", "PatchInstallAssociation"):
        assert props(infra, name)["Targets"] == [{"Key": "tag:Patch Group", "Values": [group]}]


def test_no_literal_password_or_secret_anywhere(infra):
    cluster = props(infra, "DbCluster")
    assert cluster["ManageMasterUserPassword"] is True
    for template in (infra, *(load(name) for name in ALL_TEMPLATES)):
        for name in template["Parameters"]:
            assert not re.search("password|secret|token", name, re.I), name
        for path, key, value in walk(template["Resources"]):
            if re.search("password", key, re.I) and key != "ManageMasterUserPassword":
                raise AssertionError(f"{'/'.join(map(str, path))}/{key} = {value!r}")
            if isinstance(value, str):
                assert "{{resolve:secretsmanager" not in value, path


def test_cluster_is_snapshotted_on_delete_and_replace(infra):
    cluster = infra["Resources"]["DbCluster"]
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["UpdateReplacePolicy"] == "Snapshot"


def test_cluster_is_encrypted_iam_authenticated_backed_up_and_logged(infra):
    cluster = props(infra, "DbCluster")
    assert cluster["Engine"] == "aurora-mysql"
    assert cluster["StorageEncrypted"] is True
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    assert cluster["BackupRetentionPeriod"] == {"Ref": "DbBackupRetentionDays"}
    assert infra["Parameters"]["DbBackupRetentionDays"]["MinValue"] >= 1
    assert {"error", "slowquery"} <= set(cluster["EnableCloudwatchLogsExports"])
    assert cluster["DatabaseName"] == "pets"


def test_deletion_protection_is_on_for_protected_stages_only(infra):
    assert props(infra, "DbCluster")["DeletionProtection"] == {"Ref": "DbDeletionProtection"}
    assert infra["Parameters"]["DbDeletionProtection"]["Default"] == "true"  # safe when omitted
    sent = {s: stages.stack(s, "infra").parameters["DbDeletionProtection"] for s in stages.NAMES}
    assert sent == {"dev": "false", "prod": "true"}


def test_cluster_requires_tls(infra):
    assert props(infra, "DbCluster")["DBClusterParameterGroupName"] == {
        "Ref": "DbClusterParameterGroup"
    }
    group = props(infra, "DbClusterParameterGroup")
    assert group["Family"] == "aurora-mysql8.0"
    assert group["Parameters"]["require_secure_transport"] == "ON"


def test_serverless_v2_pauses_at_zero_by_default_on_an_engine_that_supports_it(infra):
    scaling = props(infra, "DbCluster")["ServerlessV2ScalingConfiguration"]
    assert scaling["MinCapacity"] == {"Ref": "DbMinCapacity"}
    assert scaling["MaxCapacity"] == {"Ref": "DbMaxCapacity"}
    parameters = infra["Parameters"]
    assert parameters["DbMinCapacity"]["Default"] == 0
    assert props(infra, "DbInstance")["DBInstanceClass"] == "db.serverless"
    # 0 ACU needs Aurora MySQL 3.08.0 or newer: the default and the allowed pattern agree.
    pattern = re.compile(parameters["DbEngineVersion"]["AllowedPattern"])
    default = parameters["DbEngineVersion"]["Default"]
    assert pattern.fullmatch(default)
    minor = int(default.split(".")[-2])
    assert minor >= 8
    assert pattern.fullmatch("8.0.mysql_aurora.3.08.0")
    assert not pattern.fullmatch("8.0.mysql_aurora.3.07.1")


def test_idle_connections_close_before_they_could_keep_a_paused_cluster_awake(infra):
    instance = props(infra, "DbInstance")
    assert instance["DBParameterGroupName"] == {"Ref": "DbParameterGroup"}
    timeout = int(props(infra, "DbParameterGroup")["Parameters"]["wait_timeout"])
    pause_after = infra["Parameters"]["DbSecondsUntilAutoPause"]["Default"]
    assert timeout <= pause_after


def test_patch_baseline_approves_security_and_bugfix_critical_after_the_parameter(infra):
    baseline = props(infra, "PatchBaseline")
    assert baseline["OperatingSystem"] == "AMAZON_LINUX_2023"
    rules = baseline["ApprovalRules"]["PatchRules"]
    by_severity = {}
    for rule in rules:
        filters = {f["Key"]: set(f["Values"]) for f in rule["PatchFilterGroup"]["PatchFilters"]}
        assert filters["CLASSIFICATION"] == {"Security", "Bugfix"}
        by_severity[frozenset(filters["SEVERITY"])] = rule["ApproveAfterDays"]
    assert by_severity[frozenset({"Critical", "Important"})] == {"Ref": "PatchApproveAfterDays"}
    assert infra["Parameters"]["PatchApproveAfterDays"]["MinValue"] == 0


def test_a_daily_scan_association_keeps_compliance_fresh(infra):
    association = props(infra, "PatchScanAssociation")
    assert association["Name"] == "AWS-RunPatchBaseline"
    assert association["Parameters"]["Operation"] == ["Scan"]
    assert association["ScheduleExpression"] == {"Ref": "PatchScanSchedule"}
    # cron(minute hour day-of-month month day-of-week year): every day.
    default = infra["Parameters"]["PatchScanSchedule"]["Default"]
    fields = re.fullmatch(r"cron\((.*)\)", default).group(1).split()
    assert fields[2:5] in (["*", "*", "?"], ["?", "*", "*"]), default


def test_no_maintenance_window_anywhere():
    """A window's targets are tag queries and its tasks run any document: nothing the pipeline
    deploys may hold one (the execution role may not create one either)."""
    for name in [*ALL_TEMPLATES, "api/merge.yaml"]:
        kinds = {resource["Type"] for resource in load(name)["Resources"].values()}
        assert not [kind for kind in kinds if "MaintenanceWindow" in kind], name


def test_developer_policy_allows_dev_users_and_port_forwarding_only(infra):
    document = props(infra, "DeveloperAccessPolicy")["PolicyDocument"]
    by_action = {}
    for statement in statements(document):
        for action in as_list(statement["Action"]):
            by_action[action] = statement
    connect = by_action["rds-db:connect"]["Resource"]["Fn::Sub"]
    assert connect.endswith(":dbuser:${DbCluster.DBClusterResourceId}/dev_*")
    session = by_action["ssm:StartSession"]
    resources_ = [r["Fn::Sub"] for r in session["Resource"]]
    assert any(r.endswith(":instance/${Host}") for r in resources_)
    assert any(
        r.endswith(":document/AWS-StartPortForwardingSessionToRemoteHost") for r in resources_
    )
    assert len(resources_) == 2  # no other document (no shell session)
    assert session["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}


def test_the_stack_has_the_outputs_the_other_tools_read(infra):
    assert set(infra["Outputs"]) >= {
        "VpcId",
        "HostInstanceId",
        "HostSecurityGroupId",
        "ApiSecurityGroupId",
        "PrivateSubnetIds",
        "DbClusterEndpoint",
        "DbClusterPort",
        "DbClusterResourceId",
        "DbMasterSecretArn",
        "DbApiReadEndpoint",
        "DbApiWriterEndpoint",
        "DbApiConnectResourceId",
        "PatchGroup",
    }
    assert infra["Outputs"]["PrivateSubnetIds"]["Value"] == {
        "Fn::Join": [",", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]]
    }


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_output_is_described_and_exported_under_the_stack_name(name):
    template = load(name)
    for output, spec in template["Outputs"].items():
        assert spec.get("Description"), output
        assert spec["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{output}"}, output


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_templates_fit_in_a_create_stack_call(name):
    """CloudFormation takes at most 51,200 bytes of TemplateBody; more needs an S3 upload, and
    no bucket holds the bootstrap or infra templates. ops sends a template over the limit as
    compact JSON (ops.cfn.changeset), which must then fit."""
    text, template = cfn_templates.read(TEMPLATES / name)
    body = text if len(text.encode()) <= 51_200 else cfn_templates.to_compact_json(template)
    assert len(body.encode()) <= 51_200


@pytest.mark.parametrize("name", [*ALL_TEMPLATES, "api/merge.yaml"])
def test_every_checkov_skip_is_inline_and_says_why(name):
    template = load(name)
    skips = [
        (resource_name, skip)
        for resource_name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    for resource_name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (resource_name, skip)
        assert len(skip.get("comment", "").split()) >= 8, (
            f"{resource_name}: {skip['id']} needs a reason"
        )


BOUNDARY = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/pets-boundary-${Stage}"}


def test_every_role_carries_its_stage_permissions_boundary(infra):
    """The execution role refuses to create a role without it (test_isolation.py)."""
    roles = resources(infra, "AWS::IAM::Role")
    assert roles, "no role found: the test would prove nothing"
    for name, role in roles.items():
        assert role["Properties"].get("PermissionsBoundary") == BOUNDARY, name
    # The name is the one the stage bootstrap gives its boundary policy.
    bootstrap = load("bootstrap-stage.yaml")
    names = {
        props(bootstrap, name)["ManagedPolicyName"]["Fn::Sub"]
        for name in resources(bootstrap, "AWS::IAM::ManagedPolicy")
        if "ManagedPolicyName" in props(bootstrap, name)
    }
    assert names == {"pets-boundary-${Stage}"}


def test_launch_template_carries_the_stage_tag_the_execution_role_requires(infra):
    """Updates to it need aws:ResourceTag/stage (the stage bootstrap's execution role)."""
    (spec,) = props(infra, "HostLaunchTemplate")["TagSpecifications"]
    assert spec["ResourceType"] == "launch-template"
    assert {"Key": "stage", "Value": {"Ref": "Stage"}} in spec["Tags"]
