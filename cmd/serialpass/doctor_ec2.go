package main

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/serialpass/serialpass/agent/doctor"
)

// newDoctorEC2 builds the EC2 client doctor uses for CreateTags (DryRun)
// and GetSerialConsoleAccessStatus.
func newDoctorEC2(aws.Config) (doctor.EC2, error) {
	return nil, errors.New("the EC2 adapter (agent/ec2tags) is not built into this binary yet")
}
