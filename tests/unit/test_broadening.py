"""Widening of IAM permissions and security-group rules between two templates (no I/O)."""

import copy

from ops.cfn.broadening import find


def _role(statements, trust_service="lambda.amazonaws.com", **extra):
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": trust_service},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements}}],
                    **extra,
                },
            }
        }
    }


READ = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}


def _lines(old, new):
    return [w.line() for w in find(old, new)]


def test_the_same_template_widens_nothing():
    template = _role([READ])
    assert find(template, copy.deepcopy(template)) == []


def test_a_new_action_is_a_widening_and_a_removed_one_is_not():
    wider = _role([{**READ, "Action": ["s3:GetObject", "s3:PutObject"]}])
    assert _lines(_role([READ]), wider) == ["IAM `Role`: Allow s3:PutObject on arn:aws:s3:::b/*"]
    assert find(wider, _role([READ])) == []


def test_an_action_the_old_wildcard_already_allowed_is_not_a_widening():
    old = _role([{**READ, "Action": "s3:*"}])
    assert find(old, _role([READ])) == []
    assert _lines(_role([READ]), old) == ["IAM `Role`: Allow s3:* on arn:aws:s3:::b/*"]


def test_a_new_resource_is_a_widening():
    new = _role([{**READ, "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::other/*"]}])
    assert _lines(_role([READ]), new) == ["IAM `Role`: Allow s3:GetObject on arn:aws:s3:::other/*"]


def test_dropping_a_condition_widens_and_adding_one_narrows():
    guarded = {**READ, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert _lines(_role([guarded]), _role([READ])) == [
        "IAM `Role`: Allow s3:GetObject on arn:aws:s3:::b/* without the condition "
        "Bool aws:SecureTransport = true"
    ]
    assert find(_role([READ]), _role([guarded])) == []


def test_a_new_principal_in_a_trust_policy_is_a_widening():
    assert _lines(_role([READ]), _role([READ], trust_service="ec2.amazonaws.com")) == [
        "IAM `Role`: trust policy: Allow sts:AssumeRole to Service:ec2.amazonaws.com"
    ]


def test_removing_a_deny_is_a_widening():
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    assert _lines(_role([READ, deny]), _role([READ])) == [
        "IAM `Role`: removes Deny s3:DeleteObject on *"
    ]


def test_managed_policies_and_the_boundary():
    boundary = {"PermissionsBoundary": "arn:aws:iam::1:policy/pets-boundary-dev"}
    old = _role([READ], **boundary)
    new = _role([READ], ManagedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"])
    assert _lines(old, new) == [
        "IAM `Role`: attaches managed policy arn:aws:iam::aws:policy/AdministratorAccess",
        "IAM `Role`: removes its permissions boundary",
    ]


def test_intrinsic_values_are_compared_as_written():
    old = _role([{**READ, "Resource": {"Fn::Sub": "${Bucket.Arn}/a/*"}}])
    new = _role([{**READ, "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}])
    assert _lines(old, new) == ['IAM `Role`: Allow s3:GetObject on {"Fn::Sub": "${Bucket.Arn}/*"}']


def test_a_lambda_permission_on_another_target_is_a_widening():
    def permission(function):
        return {
            "Resources": {
                "Invoke": {
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": function,
                        "Principal": "apigateway.amazonaws.com",
                    },
                }
            }
        }

    assert find(permission({"Ref": "Fn"}), permission({"Ref": "Fn"})) == []
    assert _lines(permission({"Ref": "Fn"}), permission({"Ref": "Other"})) == [
        'IAM `Invoke`: Allow lambda:InvokeFunction on {"Ref": "Other"} to apigateway.amazonaws.com'
    ]


def _group(ingress, egress=None):
    properties = {"GroupDescription": "g", "SecurityGroupIngress": ingress}
    if egress is not None:
        properties["SecurityGroupEgress"] = egress
    return {"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": properties}}}


POSTGRES = {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "CidrIp": "10.0.0.0/16"}


def test_a_new_ingress_rule_and_a_wider_port_range_are_widenings():
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    assert _lines(_group([POSTGRES]), _group([POSTGRES, ssh])) == [
        "security group `Sg`: ingress tcp 22 from CidrIp 0.0.0.0/0"
    ]
    wide = {**POSTGRES, "FromPort": 3000, "ToPort": 4000}
    assert _lines(_group([POSTGRES]), _group([wide])) == [
        "security group `Sg`: ingress tcp 3000-4000 from CidrIp 10.0.0.0/16"
    ]
    assert find(_group([wide]), _group([POSTGRES])) == []


def test_a_standalone_rule_is_matched_to_its_group_by_ref_or_getatt():
    old = _group([])
    new = copy.deepcopy(old)
    new["Resources"]["FromHost"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 3306,
            "ToPort": 3306,
            "SourceSecurityGroupId": {"Ref": "HostSg"},
        },
    }
    assert _lines(old, new) == [
        'security group `Sg`: ingress tcp 3306 from SourceSecurityGroupId {"Ref": "HostSg"}'
    ]
    assert find(new, copy.deepcopy(new)) == []


def test_removing_every_explicit_egress_rule_opens_egress():
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}
    assert _lines(_group([], [https]), _group([])) == [
        "security group `Sg`: egress all traffic to anywhere "
        "(its explicit egress rules are removed)"
    ]


def test_a_new_stack_lists_everything_it_grants():
    assert _lines(None, _role([READ])) == [
        "IAM `Role`: trust policy: Allow sts:AssumeRole to Service:lambda.amazonaws.com",
        "IAM `Role`: Allow s3:GetObject on arn:aws:s3:::b/*",
    ]
