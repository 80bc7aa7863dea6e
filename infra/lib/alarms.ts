// The alarms of order intake, all to the suite's encrypted topic: function errors and
// Lambda throttles, dead-letter depth, a notification backlog growing old, and Amazon's 429s
// and unreadable orders counted from the functions' JSON logs.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { WorkQueue } from './queues.ts';
import type { SuiteFunction } from './suite-function.ts';

/**
 * The suite's alarm: at or above `threshold` in one period (1 by default), quiet without data,
 * to `topic`. Returns a function that makes one in `scope`.
 */
export function alarmsOn(scope: Construct, topic: sns.ITopic) {
  return (id: string, metric: cloudwatch.IMetric, description: string, threshold = 1): cloudwatch.Alarm => {
    const a = new cloudwatch.Alarm(scope, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    a.addAlarmAction(new cwActions.SnsAction(topic));
    return a;
  };
}

/**
 * Log lines of `logGroup` whose `field` (`error_kind` unless named) is one of `kinds`, counted
 * as metric `FBM/<metricName>` (summed per `period`).
 */
export function countErrorKinds(
  scope: Construct,
  logGroup: logs.ILogGroup,
  metricName: string,
  kinds: string[],
  period: Duration,
  field = 'error_kind',
): cloudwatch.Metric {
  new logs.MetricFilter(scope, `${metricName}Filter`, {
    logGroup,
    filterPattern: logs.FilterPattern.any(
      ...kinds.map((k) => logs.FilterPattern.stringValue(`$.fields.${field}`, '=', k)),
    ),
    metricNamespace: 'FBM',
    metricName,
    metricValue: '1',
  });
  return new cloudwatch.Metric({ namespace: 'FBM', metricName, statistic: 'Sum', period });
}

/** Amazon's 429s in a function's JSON log (the transport logs each with error "throttled"). */
export function countSpApiThrottles(scope: Construct, id: string, logGroup: logs.ILogGroup): void {
  new logs.MetricFilter(scope, id, {
    logGroup,
    filterPattern: logs.FilterPattern.stringValue('$.fields.error', '=', 'throttled'),
    metricNamespace: 'FBM',
    metricName: 'SpApiThrottled',
    metricValue: '1',
  });
}

export interface IntakeAlarmsProps {
  readonly topic: sns.ITopic;
  readonly orderSync: SuiteFunction;
  readonly orderEvents: SuiteFunction;
  readonly scheduleDlq: sqs.IQueue;
  readonly notifications: WorkQueue;
  readonly stock: WorkQueue;
}

export class IntakeAlarms extends Construct {
  constructor(scope: Construct, id: string, props: IntakeAlarmsProps) {
    super(scope, id);
    const { orderSync, orderEvents } = props;
    const alarm = alarmsOn(this, props.topic);
    const quarter = { period: Duration.minutes(15) };
    alarm(
      'OrderSyncErrors',
      orderSync.fn.metricErrors(quarter),
      'order-sync failed (store unavailable or bad event); orders are late until it recovers',
    );
    alarm(
      'OrderSyncThrottles',
      orderSync.fn.metricThrottles(quarter),
      'order-sync was throttled by Lambda: a sweep overlapped the previous one',
    );
    alarm(
      'ScheduleDlqDepth',
      props.scheduleDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'scheduled order-sync invocations failed after retries and were dead-lettered',
    );
    alarm(
      'OrderEventsErrors',
      orderEvents.fn.metricErrors(quarter),
      'order-events failed whole batches; notifications wait on their queue',
    );
    alarm(
      'OrderEventsThrottles',
      orderEvents.fn.metricThrottles(quarter),
      'order-events was throttled by Lambda (account concurrency); notifications wait on their queue',
    );
    alarm(
      'NotificationsDlqDepth',
      props.notifications.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'ORDER_CHANGE notifications were given up (each message names its ids and reason); the sweep ' +
        'still brings the orders in',
    );
    alarm(
      'NotificationsBacklogAge',
      props.notifications.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
      'the oldest notification has waited 15 minutes: intake is behind (rate budget, failures)',
      900,
    );
    alarm(
      'StockDlqDepth',
      props.stock.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'stock changes were given up by their consumer',
    );
    // Amazon's 429s, counted from both intake functions' JSON logs (the SP-API client logs
    // each retried throttle with error "throttled").
    for (const [id, fn] of [
      ['OrderSync', orderSync],
      ['OrderEvents', orderEvents],
    ] as const) {
      countSpApiThrottles(this, `${id}SpApiThrottled`, fn.logGroup);
    }
    // An order Amazon served that the suite cannot read: recorded by id and reason, the rest
    // of its page stored, fetched again by itself each run; someone should look at the reason.
    new logs.MetricFilter(this, 'OrderSyncOrdersUnreadable', {
      logGroup: orderSync.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.fields.error_kind', '=', 'order_unreadable'),
      metricNamespace: 'FBM',
      metricName: 'OrdersUnreadable',
      metricValue: '1',
    });
    alarm(
      'OrdersUnreadable',
      new cloudwatch.Metric({ namespace: 'FBM', metricName: 'OrdersUnreadable', statistic: 'Sum', period: Duration.hours(1) }),
      'order-sync met an order it cannot read (control table: pk unreadable#<seller>, with the ' +
        'reason); it is fetched again by itself each run until it reads',
    );
    alarm(
      'SpApiThrottled',
      new cloudwatch.Metric({ namespace: 'FBM', metricName: 'SpApiThrottled', statistic: 'Sum', ...quarter }),
      'Amazon answered 429 ten times in 15 minutes: the shared rate budget is out of step with the ' +
        "seller's usage plan (another app on the same seller?)",
      10,
    );

  }
}
