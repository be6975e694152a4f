import { Box } from 'ink';
import { isTooSmall, layout, type Size } from '../layout.js';
import { visibleTree } from '../select.js';
import type { State } from '../state.js';
import { AlertLog } from './AlertLog.js';
import { Alerts } from './Alerts.js';
import { Approvals } from './Approvals.js';
import { ConfirmDialog, ResumeDialog } from './ConfirmDialog.js';
import { Details } from './Details.js';
import { Footer } from './Footer.js';
import { GrantConfirm, GrantInput } from './GrantInput.js';
import { Header } from './Header.js';
import { Help } from './Help.js';
import { ScopeTree } from './ScopeTree.js';
import { TooSmall } from './TooSmall.js';

/**
 * The whole dashboard for one state and terminal size. Header and approvals never leave the
 * screen (help aside); dialogs take the tree's place, details the tree's and the alerts'.
 */
export function Screen({ state, size, endpoint }: { state: State; size: Size; endpoint?: string | undefined }) {
  if (isTooSmall(size)) return <TooSmall size={size} />;
  const l = layout(size, { prompts: state.data?.prompts.length ?? 0, scopes: visibleTree(state).length, alerts: state.alerts.length });
  const treeHeight = l.treeRows + 1;
  const alertsHeight = l.alertRows + 1;
  const { mode } = state;
  let body;
  switch (mode.kind) {
    case 'help':
      return (
        <Box flexDirection="column" width={l.columns} height={l.height}>
          <Header state={state} layout={l} endpoint={endpoint} />
          <Help readonly={state.readonly} width={l.columns} height={l.height - l.headerLines - 1} />
          <Footer state={state} layout={l} />
        </Box>
      );
    case 'log':
      return (
        <Box flexDirection="column" width={l.columns} height={l.height}>
          <Header state={state} layout={l} endpoint={endpoint} />
          <AlertLog state={state} width={l.columns} height={l.height - l.headerLines - 1} />
          <Footer state={state} layout={l} />
        </Box>
      );
    case 'details':
      body = <Details state={state} row={mode.row} height={treeHeight + alertsHeight} width={l.columns} />;
      break;
    case 'confirm-kill':
      body = [
        <Box key="dialog" height={treeHeight} flexDirection="column">
          <ConfirmDialog state={state} target={mode.target} />
        </Box>,
        <Alerts key="alerts" state={state} layout={l} />,
      ];
      break;
    case 'confirm-resume':
      body = [
        <Box key="dialog" height={treeHeight} flexDirection="column">
          <ResumeDialog state={state} target={mode.target} blocked={mode.blocked} />
        </Box>,
        <Alerts key="alerts" state={state} layout={l} />,
      ];
      break;
    case 'grant':
      body = [
        <Box key="dialog" height={treeHeight} flexDirection="column">
          <GrantInput state={state} target={mode.target} draft={mode.draft} error={mode.error} />
        </Box>,
        <Alerts key="alerts" state={state} layout={l} />,
      ];
      break;
    case 'confirm-grant':
      body = [
        <Box key="dialog" height={treeHeight} flexDirection="column">
          <GrantConfirm state={state} mode={mode} />
        </Box>,
        <Alerts key="alerts" state={state} layout={l} />,
      ];
      break;
    case 'main':
    case 'filter':
      body = [<ScopeTree key="tree" state={state} layout={l} />, <Alerts key="alerts" state={state} layout={l} />];
      break;
    default:
      return mode satisfies never;
  }
  return (
    <Box flexDirection="column" width={l.columns} height={l.height}>
      <Header state={state} layout={l} endpoint={endpoint} />
      <Approvals state={state} layout={l} />
      {body}
      <Footer state={state} layout={l} />
    </Box>
  );
}
