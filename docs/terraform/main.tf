# Minimal serialpass deployment: a secret, an instance role allowed exactly
# what docs/iam-policy.json grants, and an instance whose tags say which
# secret to use. The AMI is expected to have the serialpass package baked
# in (or see docs/deploy.md for cloud-init user data).
#
# The secret's value is not set here, so the password never lands in the
# Terraform state: put it with the console or the CLI (docs/deploy.md).

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

# serialpass reports on the instance's own serialpass:status* tags: keep
# Terraform from removing them on the next apply.
provider "aws" {
  ignore_tags {
    key_prefixes = ["serialpass:status"]
  }
}

variable "ami_id" {
  description = "Golden AMI with serialpass installed"
  type        = string
}

variable "instance_type" {
  description = "A Nitro instance type (the serial console needs one)"
  type        = string
  default     = "t3.micro"
}

data "aws_caller_identity" "current" {}

resource "aws_secretsmanager_secret" "console" {
  name        = "serialpass/console"
  description = "EC2 Serial Console password for ec2-serial (set by serialpass)"
}

resource "aws_iam_role" "serialpass" {
  name = "serialpass-instance"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}

# The same least-privilege policy as docs/iam-policy.json, with this
# account's id in place of the example id.
resource "aws_iam_role_policy" "serialpass" {
  name   = "serialpass"
  role   = aws_iam_role.serialpass.id
  policy = replace(file("${path.module}/../iam-policy.json"), "111122223333", data.aws_caller_identity.current.account_id)
}

resource "aws_iam_instance_profile" "serialpass" {
  name = "serialpass-instance"
  role = aws_iam_role.serialpass.name
}

resource "aws_instance" "example" {
  ami                  = var.ami_id
  instance_type        = var.instance_type
  iam_instance_profile = aws_iam_instance_profile.serialpass.name

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  tags = {
    Name                = "serialpass-example"
    "serialpass:secret" = aws_secretsmanager_secret.console.name
  }
}

output "secret_arn" {
  value = aws_secretsmanager_secret.console.arn
}

output "instance_id" {
  value = aws_instance.example.id
}
