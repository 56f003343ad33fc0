"""The local stack's alarm evaluation (moto evaluates no alarm): each new datapoint is judged, even
when it shares a period with an earlier one."""

import boto3

from retrainer.local.emitters import AlarmStateEmitter


def test_a_breaching_datapoint_in_the_same_period_as_a_calm_one_raises_the_alarm(aws):
    session = boto3.Session(region_name="us-east-1")
    cloudwatch = session.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="drift", Namespace="Retrainer/Drift", MetricName="MaxFeaturePSI",
                                Dimensions=[{"Name": "Model", "Value": "m"}], Statistic="Maximum", Period=60,
                                EvaluationPeriods=1, Threshold=0.2, ComparisonOperator="GreaterThanThreshold")
    emitter = AlarmStateEmitter(session)

    def put(value):
        cloudwatch.put_metric_data(Namespace="Retrainer/Drift", MetricData=[
            {"MetricName": "MaxFeaturePSI", "Dimensions": [{"Name": "Model", "Value": "m"}], "Value": value}])

    put(0.01)  # a steady scoring batch
    emitter.poll()
    assert cloudwatch.describe_alarms(AlarmNames=["drift"])["MetricAlarms"][0]["StateValue"] == "OK"

    put(3.0)  # a drifted one, seconds later: one period, one aggregate, as many points as before
    emitter.poll()
    assert cloudwatch.describe_alarms(AlarmNames=["drift"])["MetricAlarms"][0]["StateValue"] == "ALARM"


