#!/usr/bin/env bash
# The do-it-yourself alternative to serialpass, as an operator would put it
# in user data: IMDSv2 with curl, the secret with the AWS CLI, chpasswd,
# and a status tag with the AWS CLI. The benchmark runs it against the same
# emulators as serialpass and on a sandbox root (ROOT), so it never touches
# this machine's accounts; on an instance ROOT would be / and the
# --endpoint-url plumbing would go.
set -euo pipefail

ROOT=${ROOT:?set ROOT to the sandbox root}
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
IMDS=${IMDS%/}
# Debian's awscli (v2.9) does not read AWS_ENDPOINT_URL; pass it on.
endpoint=()
[[ -n ${AWS_ENDPOINT_URL:-} ]] && endpoint=(--endpoint-url "$AWS_ENDPOINT_URL")

TOKEN=$(curl -sf -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }

INSTANCE_ID=$(md instance-id)
REGION=$(md placement/region)
SECRET_ID=$(md tags/instance/serialpass:secret)
USER_NAME=$(md tags/instance/serialpass:user || echo ec2-serial)

SECRET=$(aws "${endpoint[@]}" --region "$REGION" secretsmanager get-secret-value \
  --secret-id "$SECRET_ID" --query SecretString --output text)
PASSWORD=$(jq -r .password <<<"$SECRET")

if ! grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
  useradd --root "$ROOT" --create-home --shell /bin/bash --groups sudo "$USER_NAME"
fi
printf '%s:%s\n' "$USER_NAME" "$PASSWORD" | chpasswd --root "$ROOT" -c SHA512

aws "${endpoint[@]}" --region "$REGION" ec2 create-tags --resources "$INSTANCE_ID" \
  --tags "Key=serialpass:status,Value=ready" "Key=serialpass:status:time,Value=$(date -u +%FT%TZ)"
