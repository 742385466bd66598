"""Small CloudFormation templates for the deploy tests, and a helper to write them to disk.

moto's CloudFormation supports only some resource types (not AWS::RDS::DBCluster, SSM patch
baselines, the SAM transform ...), so the deploy logic is exercised with small templates of types
it does support: AWS::SQS::Queue, AWS::SNS::Topic, AWS::S3::Bucket.
"""

from pathlib import Path

QUEUE_TEMPLATE = """\
Description: one queue, named by a parameter
Parameters:
  QueueName:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
Outputs:
  QueueUrl:
    Description: the queue's URL
    Value: !Ref Queue
  QueueArn:
    Description: the queue's ARN
    Value: !GetAtt Queue.Arn
"""

TOPIC_TEMPLATE = """\
Description: one topic, no parameters
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

TOPIC_AND_BUCKET_TEMPLATE = """\
Description: a topic and a bucket, no parameters
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Bucket:
    Type: AWS::S3::Bucket
"""


def write(tmp_path, name, text):
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
