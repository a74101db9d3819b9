// Who may act and who may approve: user ids, "*", local groups that win over Slack's, and Slack groups resolved
// through the resolver and cached for the configured time only.
import assert from 'node:assert/strict';
import { Access } from '../../src/access.ts';
import { Access as AccessConfig } from '../../src/config.ts';

function access(
  config: Record<string, unknown>,
  slackGroups: Record<string, string[]> = {},
  cacheMs?: number,
) {
  const lookups: string[] = [];
  const resolver = async (handle: string) => {
    lookups.push(handle);
    return slackGroups[handle];
  };
  return {
    access: new Access(AccessConfig.parse(config), resolver, cacheMs === undefined ? {} : { cacheMs }),
    lookups,
  };
}

describe('Access', () => {
  it('lets approvers act as responders, but not responders approve', async () => {
    const { access: a } = access({ responders: ['U_RESP'], approvers: ['U_APPR'] });
    assert.equal(await a.isResponder('U_RESP'), true);
    assert.equal(await a.isResponder('U_APPR'), true);
    assert.equal(await a.isApprover('U_APPR'), true);
    assert.equal(await a.isApprover('U_RESP'), false);
    assert.equal(await a.isResponder('U_STRANGER'), false);
  });

  it('treats "*" as anyone', async () => {
    const { access: a } = access({ responders: ['*'], approvers: ['U_APPR'] });
    assert.equal(await a.isResponder('U_ANYONE'), true);
    assert.equal(await a.isApprover('U_ANYONE'), false);
    assert.deepEqual(await access({ responders: ['*'], approvers: ['*'] }).access.approverIds(), {
      ids: [],
      anyone: true,
      unresolved: [],
    });
  });

  it('resolves Slack user groups, and a local definition wins without asking Slack', async () => {
    const { access: a, lookups } = access(
      { responders: ['@oncall'], approvers: ['@sre-leads'], groups: { 'sre-leads': ['U_LOCAL'] } },
      { oncall: ['U_ONCALL'], 'sre-leads': ['U_FROM_SLACK'] },
    );
    assert.equal(await a.isResponder('U_ONCALL'), true);
    assert.equal(await a.isApprover('U_LOCAL'), true);
    assert.equal(await a.isApprover('U_FROM_SLACK'), false, 'the local definition of @sre-leads wins');
    assert.ok(!lookups.includes('sre-leads'), 'Slack is not asked for a locally defined group');
  });

  it('lists approver ids and names the groups it could not resolve', async () => {
    const { access: a } = access(
      { responders: ['*'], approvers: ['U_ONE', '@leads', '@ghosts'] },
      { leads: ['U_TWO', 'U_ONE'] },
    );
    const who = await a.approverIds();
    assert.deepEqual(who.ids.sort(), ['U_ONE', 'U_TWO']);
    assert.equal(who.anyone, false);
    assert.deepEqual(who.unresolved, ['@ghosts']);
    assert.equal(a.describeApprovers(), '<@U_ONE>, @leads, @ghosts');
  });

  it('caches a resolved group for the cache time and asks again once it has passed', async () => {
    const groups = { leads: ['U_OLD'] };
    const cached = access({ responders: ['*'], approvers: ['@leads'] }, groups, 60_000);
    assert.equal(await cached.access.isApprover('U_OLD'), true);
    groups.leads = ['U_NEW'];
    assert.equal(
      await cached.access.isApprover('U_OLD'),
      true,
      'within the cache time the old answer stands',
    );
    assert.deepEqual(cached.lookups, ['leads']);

    const uncached = access({ responders: ['*'], approvers: ['@leads'] }, groups, 0);
    assert.equal(await uncached.access.isApprover('U_NEW'), true);
    groups.leads = [];
    assert.equal(
      await uncached.access.isApprover('U_NEW'),
      false,
      'removal is seen once the cache time has passed',
    );
    assert.deepEqual(uncached.lookups, ['leads', 'leads']);
  });

  it('exposes the approval time-to-live and whether break-glass is allowed', () => {
    const { access: a } = access({
      responders: ['*'],
      approvers: ['*'],
      approvalTtl: '5m',
      breakGlass: true,
    });
    assert.equal(a.approvalTtlMs, 5 * 60_000);
    assert.equal(a.breakGlassAllowed, true);
  });
});
