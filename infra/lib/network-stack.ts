import { Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvironmentSettings } from './environments.ts';

/** A literal, not a token, so rules on the endpoints' security group can be checked at synth. */
export const VPC_CIDR = '10.0.0.0/16';

export interface NetworkStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
}

/**
 * The VPC: public subnets only for the NAT gateways, private subnets (`lambda`) with egress for the
 * Lambdas, isolated subnets (`data`) for the database, its proxy and the cache; interface endpoints
 * for the AWS services the Lambdas call; flow logs of all traffic.
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  /** The Lambdas' security group: the data stores admit this group and nothing else. */
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  private readonly azCount: number;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.azCount = settings.network.azs;

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: settings.network.azs,
      natGateways: settings.network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'lambda', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    });

    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, 'LambdaSecurityGroup', {
      vpc: this.vpc,
      description: 'LogLineOS Lambdas: no ingress; egress to the data stores, the endpoints and, via NAT, AppSync',
      allowAllOutbound: true,
    });

    // AppSync is deliberately absent: an appsync-api endpoint with private DNS makes the API's public
    // URL unreachable from the VPC (AWS AppSync private APIs guide), and this API is public; writers
    // publish to it through the NAT gateways with IAM-signed requests.
    const endpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      BedrockRuntime: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
      CloudWatchLogs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
    };
    // HTTPS from inside the VPC: the Lambdas and the secret rotation function, which has its own group.
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), 'HTTPS from the VPC');
    for (const [name, service] of Object.entries(endpoints)) {
      this.vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: { subnetGroupName: 'lambda' },
        privateDnsEnabled: true,
        securityGroups: [endpointSecurityGroup],
        open: false,
      });
    }
  }

  /** Environment-agnostic stacks get two AZ tokens by default; production spans three. */
  override get availabilityZones(): string[] {
    return Array.from({ length: this.azCount ?? 2 }, (_, index) => Fn.select(index, Fn.getAzs()));
  }
}
