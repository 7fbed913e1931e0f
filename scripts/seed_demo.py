#!/usr/bin/env python3
"""Seed the local AWS emulator (moto) with demo data for `make dev`.

Creates a demo bucket with a few objects, a Glue database and table over it, and the two
stack roles (read and write) the server assumes for callers. Prints the role ARNs as
shell assignments. Usage: seed_demo.py ENDPOINT_URL
"""
import json
import sys

import boto3

ENDPOINT = sys.argv[1]
REGION = "us-east-1"
BUCKET = "quilt-demo"
KW = dict(endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")

s3 = boto3.client("s3", **KW)
s3.create_bucket(Bucket=BUCKET)
objects = {
    "README.md": "# Demo data\n\nServed by the local AWS emulator for `make dev`.\n",
    "data/cells.csv": "cell_id,gene,expression\n1,GATA1,4.2\n2,TP53,1.7\n3,MYC,8.9\n",
    "data/samples.json": json.dumps({"samples": [{"id": "s1", "tissue": "liver"}, {"id": "s2", "tissue": "brain"}]}),
}
for key, body in objects.items():
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode(), ContentType="text/plain")

glue = boto3.client("glue", **KW)
glue.create_database(DatabaseInput={"Name": "demo", "Description": "Demo database"})
glue.create_table(
    DatabaseName="demo",
    TableInput={
        "Name": "cells",
        "StorageDescriptor": {
            "Columns": [
                {"Name": "cell_id", "Type": "int"},
                {"Name": "gene", "Type": "string"},
                {"Name": "expression", "Type": "double"},
            ],
            "Location": f"s3://{BUCKET}/data/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"},
        },
        "TableType": "EXTERNAL_TABLE",
    },
)

iam = boto3.client("iam", **KW)
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]})
arns = {}
for name in ("QuiltDemoReadRole", "QuiltDemoWriteRole"):
    arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
print(f"QUILT_READ_ROLE_ARN={arns['QuiltDemoReadRole']}")
print(f"QUILT_WRITE_ROLE_ARN={arns['QuiltDemoWriteRole']}")
