"""Patching in cloudformation/infra.yaml: AWS installs by itself, keeps full output, and alarms.

Each test reads the template as CloudFormation does and states one property of the cycle
docs/patching.md describes: the daily Scan and the weekly Install, their output in the stage's
own artifacts bucket, the release document ops runs, and the alarms on a stale Scan or a host
that stays non-compliant, down to the events and metric filters that feed them (and the log
resource policy the stage's bootstrap stack holds for them).
"""

import json
import re

import pytest

from tests.support.templates import props, resources

GROUP = [{"Key": "tag:Patch Group", "Values": [{"Fn::Sub": "pets-${Stage}"}]}]
BUCKET = {"Fn::ImportValue": {"Fn::Sub": "pets-bootstrap-${Stage}-ArtifactsBucket"}}
TOPIC = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def cron_fields(expression):
    return re.fullmatch(r"cron\((.*)\)", expression).group(1).split()


def test_aws_installs_patches_weekly_and_reboots_when_needed_on_by_default(infra):
    association = props(infra, "PatchInstallAssociation")
    assert association["Name"] == "AWS-RunPatchBaseline"
    assert association["Parameters"] == {
        "Operation": ["Install"],
        "RebootOption": ["RebootIfNeeded"],
    }
    assert association["Targets"] == GROUP
    assert association["ScheduleExpression"] == {"Ref": "PatchInstallSchedule"}
    # Created (or changed) by a deploy, it must wait for its schedule: no reboot mid-deploy.
    assert association["ApplyOnlyAtCronInterval"] is True
    assert infra["Resources"]["PatchInstallAssociation"]["Condition"] == "UseScheduledInstall"
    assert infra["Parameters"]["EnableScheduledInstall"]["Default"] == "true"
    assert infra["Conditions"]["UseScheduledInstall"] == {
        "Fn::Equals": [{"Ref": "EnableScheduledInstall"}, "true"]
    }
    schedule = infra["Parameters"]["PatchInstallSchedule"]
    minute, hour, day, month, weekday, year = cron_fields(schedule["Default"])
    assert (day, month, year) == ("?", "*", "*") and weekday not in ("*", "?")  # once a week
    # SSM refuses ApplyOnlyAtCronInterval with a rate(...) schedule: refuse it before SSM does.
    pattern = re.compile(schedule["AllowedPattern"])
    assert pattern.fullmatch(schedule["Default"])
    assert not pattern.fullmatch("rate(7 days)")


def test_the_daily_scan_stays_and_runs_before_the_weekly_install(infra):
    scan = props(infra, "PatchScanAssociation")
    assert scan["Parameters"] == {"Operation": ["Scan"]}
    assert "ApplyOnlyAtCronInterval" not in scan  # a new stage gets compliance data at once
    scan_minute, scan_hour, *_ = cron_fields(infra["Parameters"]["PatchScanSchedule"]["Default"])
    minute, hour, *_ = cron_fields(infra["Parameters"]["PatchInstallSchedule"]["Default"])
    assert (int(scan_hour), int(scan_minute)) < (int(hour), int(minute))


@pytest.mark.parametrize(
    ("association", "operation"),
    [("PatchScanAssociation", "scan"), ("PatchInstallAssociation", "install")],
)
def test_association_output_goes_to_the_stages_own_artifacts_bucket(infra, association, operation):
    location = props(infra, association)["OutputLocation"]["S3Location"]
    assert location["OutputS3BucketName"] == BUCKET
    # One bucket per stage: the key needs no stage (the bootstrap's bucket layout).
    assert location["OutputS3KeyPrefix"] == f"patch-output/{operation}"
    # ops patch writes under the same prefix (stack output PatchOutputPrefix).
    assert infra["Outputs"]["PatchOutputPrefix"]["Value"] == "patch-output"


def test_the_release_document_runs_a_fixed_script_without_parameters(infra):
    document = props(infra, "HostReleaseDocument")
    assert document["DocumentType"] == "Command"
    assert document["Name"] == {"Fn::Sub": "pets-${Stage}-host-release"}
    # A fixed name: a content change must make a new version, not a replacement.
    assert document["UpdateMethod"] == "NewVersion"
    content = document["Content"]
    assert "parameters" not in content  # nothing a caller can pass in: no arbitrary command
    (step,) = content["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    script = "\n".join(step["inputs"]["runCommand"])
    assert "{{" not in script
    for key in ("release=", "releasever=", "boot="):
        assert f'echo "{key}' in script
    assert "rpm -q --queryformat '%{VERSION}' system-release" in script
    assert "/etc/dnf/vars/releasever" in script
    assert {"Key": "stage", "Value": {"Ref": "Stage"}} in document["Tags"]
    assert infra["Outputs"]["HostReleaseDocument"]["Value"] == {"Ref": "HostReleaseDocument"}
    assert infra["Outputs"]["HostOsRelease"]["Value"] == {"Ref": "HostOsRelease"}


# ---------------------------------------------------------------- events, metrics, alarms
def test_events_of_this_stages_patching_reach_the_log_group(infra):
    log_group = props(infra, "PatchEventsLogGroup")
    assert log_group["LogGroupName"] == {"Fn::Sub": "/pets/${Stage}/patch-events"}
    assert log_group["RetentionInDays"] > 0
    target = {
        "Id": "patch-events",
        "Arn": {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
            "${PatchEventsLogGroup}"
        },
    }
    compliance = props(infra, "PatchComplianceEventsRule")
    assert compliance["Targets"] == [target]
    assert compliance["EventPattern"] == {
        "source": ["aws.ssm"],
        "detail-type": ["Configuration Compliance State Change"],
        # Only patch compliance, and only of hosts patched with this stage's baseline.
        "detail": {"compliance-type": ["Patch"], "patch-baseline-id": [{"Ref": "PatchBaseline"}]},
    }
    runs = props(infra, "PatchRunEventsRule")
    assert runs["Targets"] == [target]
    assert runs["EventPattern"]["detail-type"] == [
        "EC2 State Manager Instance Association State Change"
    ]
    ids = runs["EventPattern"]["detail"]["association-id"]
    assert {"Fn::GetAtt": ["PatchScanAssociation", "AssociationId"]} in ids
    assert {
        "Fn::If": [
            "UseScheduledInstall",
            {"Fn::GetAtt": ["PatchInstallAssociation", "AssociationId"]},
            {"Ref": "AWS::NoValue"},
        ]
    } in ids
    # The log resource policy that lets EventBridge write is the bootstrap's, made beforehand:
    # no pipeline identity may write one (it is account-wide).
    assert not resources(infra, "AWS::Logs::ResourcePolicy")


def test_only_eventbridge_may_write_to_the_stages_event_log_groups(bootstrap, infra):
    policy = props(bootstrap, "PatchEventsLogPolicy")
    document = json.loads(policy["PolicyDocument"]["Fn::Sub"])
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Principal"]["Service"]) == {
        "events.amazonaws.com",
        "delivery.logs.amazonaws.com",
    }
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    assert statement["Resource"] == prefix + "/pets/${Stage}/*:*"
    # The infra stack's event log group falls under it.
    name = props(infra, "PatchEventsLogGroup")["LogGroupName"]["Fn::Sub"]
    assert name.startswith("/pets/${Stage}/")


def _filters(infra):
    found = {}
    for name, resource in resources(infra, "AWS::Logs::MetricFilter").items():
        properties = resource["Properties"]
        assert properties["LogGroupName"] == {"Ref": "PatchEventsLogGroup"}
        (transformation,) = properties["MetricTransformations"]
        assert transformation["MetricNamespace"] == {"Fn::Sub": "pets/${Stage}"}
        pattern = properties["FilterPattern"]
        found[name] = (
            pattern["Fn::Sub"] if isinstance(pattern, dict) else pattern,
            transformation["MetricName"],
            transformation["MetricValue"],
        )
    return found


def test_metric_filters_count_scans_and_carry_the_compliance_state(infra):
    filters = _filters(infra)
    pattern, metric, value = filters["PatchScanSucceededFilter"]
    assert (metric, value) == ("PatchScansSucceeded", "1")
    assert '$.detail.association-id = "${PatchScanAssociation.AssociationId}"' in pattern
    assert '$.detail.status = "Success"' in pattern
    # Non-compliant is 1 and compliant 0 in one metric, in either case AWS may spell them.
    pattern, metric, value = filters["PatchNonCompliantFilter"]
    assert (metric, value) == ("PatchNonCompliant", "1")
    assert '"non_compliant"' in pattern and '"NON_COMPLIANT"' in pattern
    pattern, metric, value = filters["PatchCompliantFilter"]
    assert (metric, value) == ("PatchNonCompliant", "0")
    assert '= "compliant"' in pattern and '= "COMPLIANT"' in pattern
    assert "non_compliant" not in pattern.lower()
    pattern, metric, value = filters["PatchComplianceChangedFilter"]
    assert (metric, value) == ("PatchComplianceChanges", "1")
    assert '$.detail-type = "Configuration Compliance State Change"' in pattern


def test_a_scan_that_stopped_succeeding_alarms_after_the_parameter(infra):
    alarm = props(infra, "PatchScanStaleAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        {"Fn::Sub": "pets/${Stage}"},
        "PatchScansSucceeded",
    )
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 3600)
    # Every one of the last N hours without a successful Scan: N hours stale.
    assert alarm["EvaluationPeriods"] == {"Ref": "PatchScanMaxAgeHours"}
    assert alarm["DatapointsToAlarm"] == {"Ref": "PatchScanMaxAgeHours"}
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"  # no Scan at all is the point
    hours = infra["Parameters"]["PatchScanMaxAgeHours"]
    assert hours["MinValue"] > 24  # the Scan runs daily: a shorter limit alarms every day
    assert hours["MaxValue"] * alarm["Period"] <= 7 * 24 * 3600  # CloudWatch's longest range
    assert alarm["AlarmActions"] == TOPIC and alarm["OKActions"] == TOPIC


def test_a_host_non_compliant_for_longer_than_the_parameter_alarms_to_the_topic(infra):
    state = props(infra, "PatchNonCompliantStateAlarm")
    assert state["MetricName"] == "PatchNonCompliant"
    assert (state["ComparisonOperator"], state["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    # Compliance events are rare: between them the alarm keeps the last state.
    assert state["TreatMissingData"] == "ignore"
    assert "AlarmActions" not in state
    changed = props(infra, "PatchComplianceChangedAlarm")
    assert changed["MetricName"] == "PatchComplianceChanges"
    assert changed["EvaluationPeriods"] == {"Ref": "PatchNonCompliantMaxHours"}
    assert changed["DatapointsToAlarm"] == 1  # any change within the window
    assert changed["TreatMissingData"] == "notBreaching"
    assert "AlarmActions" not in changed
    composite = props(infra, "PatchNonCompliantAlarm")
    assert composite["AlarmRule"] == {
        "Fn::Sub": 'ALARM("${PatchNonCompliantStateAlarm}") AND NOT '
        'ALARM("${PatchComplianceChangedAlarm}")'
    }
    assert composite["AlarmActions"] == TOPIC and composite["OKActions"] == TOPIC
    hours = infra["Parameters"]["PatchNonCompliantMaxHours"]
    assert hours["MaxValue"] * changed["Period"] <= 7 * 24 * 3600
    # Normal non-compliance lasts until the next weekly Install: the default must outlast it.
    assert hours["Default"] >= 6 * 24


def test_alarms_notify_the_stages_topic_only_when_one_is_given(infra):
    parameter = infra["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("arn:aws:sns:us-east-1:123456789012:pets-dev-alarms")
    assert not pattern.fullmatch("arn:aws:sqs:us-east-1:123456789012:queue")
    assert infra["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    notifying = [
        name
        for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for name, resource in resources(infra, kind).items()
        if "AlarmActions" in resource["Properties"]
    ]
    assert sorted(notifying) == ["PatchNonCompliantAlarm", "PatchScanStaleAlarm"]


def test_alarm_names_carry_the_stage_prefix_the_execution_role_may_write(infra):
    for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        for name, resource in resources(infra, kind).items():
            alarm_name = resource["Properties"]["AlarmName"]["Fn::Sub"]
            assert alarm_name.startswith("pets-${Stage}-patch-"), name


def test_the_patch_output_expires_with_the_artifacts_buckets_lifecycle(bootstrap, infra):
    rules = props(bootstrap, "ArtifactsBucket")["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == "patch-output/"]
    assert rule["Status"] == "Enabled"
    assert 0 < rule["ExpirationInDays"] <= 90
    # Every place patch output is written falls under that prefix.
    assert infra["Outputs"]["PatchOutputPrefix"]["Value"] == "patch-output"
    for name in ("PatchScanAssociation", "PatchInstallAssociation"):
        prefix = props(infra, name)["OutputLocation"]["S3Location"]["OutputS3KeyPrefix"]
        assert prefix.startswith("patch-output/"), name
