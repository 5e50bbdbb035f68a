package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/serialpass/serialpass/agent/doctor"
	"github.com/serialpass/serialpass/agent/ec2tags"
)

// newDoctorEC2 builds the EC2 client doctor uses for CreateTags (DryRun)
// and GetSerialConsoleAccessStatus.
func newDoctorEC2(cfg aws.Config) (doctor.EC2, error) { return ec2tags.New(cfg), nil }
