//! How AWS services take actions, and the names they sign with, from their API
//! models as botocore ships them (`metadata.protocol`, `targetPrefix`, `jsonVersion`,
//! `apiVersion`, `signingName`).

use super::target::AwsTarget;

/// How a service takes actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// AWS JSON 1.0 / 1.1: `X-Amz-Target: {target_prefix}.{Action}`.
    Json {
        target_prefix: &'static str,
        version: &'static str,
    },
    /// The query protocol: `Action` and `Version` parameters.
    Query { version: &'static str },
    /// REST services address operations by path and method.
    Rest,
}

/// Services by endpoint prefix, from their API models.
const PROTOCOLS: &[(&str, Protocol)] = &[
    ("states", json("AWSStepFunctions", "1.0")),
    // Step Functions' synchronous Express executions: the `sync-` host prefix.
    ("sync-states", json("AWSStepFunctions", "1.0")),
    ("dynamodb", json("DynamoDB_20120810", "1.0")),
    ("streams.dynamodb", json("DynamoDBStreams_20120810", "1.0")),
    ("swf", json("SimpleWorkflowService", "1.0")),
    ("kinesis", json("Kinesis_20131202", "1.1")),
    ("events", json("AWSEvents", "1.1")),
    ("logs", json("Logs_20140328", "1.1")),
    ("firehose", json("Firehose_20150804", "1.1")),
    ("kms", json("TrentService", "1.1")),
    ("ssm", json("AmazonSSM", "1.1")),
    ("secretsmanager", json("secretsmanager", "1.1")),
    ("ecs", json("AmazonEC2ContainerServiceV20141113", "1.1")),
    (
        "cognito-idp",
        json("AWSCognitoIdentityProviderService", "1.1"),
    ),
    ("glue", json("AWSGlue", "1.1")),
    ("athena", json("AmazonAthena", "1.1")),
    ("codebuild", json("CodeBuild_20161006", "1.1")),
    ("codepipeline", json("CodePipeline_20150709", "1.1")),
    ("config", json("StarlingDoveService", "1.1")),
    (
        "cloudtrail",
        json(
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
            "1.1",
        ),
    ),
    ("acm", json("CertificateManager", "1.1")),
    (
        "application-autoscaling",
        json("AnyScaleFrontendService", "1.1"),
    ),
    ("elasticmapreduce", json("ElasticMapReduce", "1.1")),
    ("comprehend", json("Comprehend_20171127", "1.1")),
    ("translate", json("AWSShineFrontendService_20170701", "1.1")),
    ("rekognition", json("RekognitionService", "1.1")),
    ("textract", json("Textract", "1.1")),
    ("transcribe", json("Transcribe", "1.1")),
    ("organizations", json("AWSOrganizationsV20161128", "1.1")),
    ("kinesisanalytics", json("KinesisAnalytics_20180523", "1.1")),
    ("redshift-data", json("RedshiftData", "1.1")),
    (
        "servicediscovery",
        json("Route53AutoNaming_v20170314", "1.1"),
    ),
    ("datapipeline", json("DataPipeline", "1.1")),
    ("support", json("AWSSupport_20130415", "1.1")),
    ("sqs", query("2012-11-05")),
    ("sns", query("2010-03-31")),
    ("sts", query("2011-06-15")),
    ("iam", query("2010-05-08")),
    ("ec2", query("2016-11-15")),
    ("monitoring", query("2010-08-01")),
    ("email", query("2010-12-01")),
    ("cloudformation", query("2010-05-15")),
    ("autoscaling", query("2011-01-01")),
    ("elasticloadbalancing", query("2015-12-01")),
    ("rds", query("2014-10-31")),
    ("elasticache", query("2015-02-02")),
    ("redshift", query("2012-12-01")),
    ("elasticbeanstalk", query("2010-12-01")),
    ("sdb", query("2009-04-15")),
    ("s3", Protocol::Rest),
    ("lambda", Protocol::Rest),
    ("apigateway", Protocol::Rest),
    ("execute-api", Protocol::Rest),
    ("sagemaker", Protocol::Rest),
    ("runtime.sagemaker", Protocol::Rest),
    ("iot", Protocol::Rest),
    ("appsync", Protocol::Rest),
    ("batch", Protocol::Rest),
    ("polly", Protocol::Rest),
    ("xray", Protocol::Rest),
    ("route53", Protocol::Rest),
    ("appconfig", Protocol::Rest),
];

/// Signing names that differ from the URI's service name.
const SIGNING_NAMES: &[(&str, &str)] = &[("email", "ses"), ("sync-states", "states")];

const fn query(version: &'static str) -> Protocol {
    Protocol::Query { version }
}

const fn json(target_prefix: &'static str, version: &'static str) -> Protocol {
    Protocol::Json {
        target_prefix,
        version,
    }
}

/// The protocol of `{subdomain}.{service}`, else of `{service}`.
pub(crate) fn protocol_of(target: &AwsTarget) -> Option<Protocol> {
    let lookup = |key: &str| PROTOCOLS.iter().find(|(k, _)| *k == key).map(|(_, p)| *p);
    target
        .subdomain()
        .is_some()
        .then(|| lookup(&target.endpoint_prefix()))
        .flatten()
        .or_else(|| lookup(target.service()))
}

pub(crate) fn signing_name(target: &AwsTarget) -> &str {
    SIGNING_NAMES
        .iter()
        .find(|(service, _)| *service == target.service())
        .map_or(target.service(), |(_, name)| name)
}
