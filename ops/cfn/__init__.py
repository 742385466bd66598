"""CloudFormation machinery: read templates, package and upload artifacts, plan change sets,
execute them and follow the events. Commands call it; it never parses arguments."""
