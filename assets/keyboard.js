// Keyboard on the command page: Enter on a queue row opens it, Esc closes the detail panel (or
// cancels the one a click is opening),
// "A" assigns the top suggestion of the open item (never while typing in a field); the skip link
// takes the focus into the queue.
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }
  // The skip link: into the queue's first cell (its header when the queue is empty), so the
  // keyboard reaches the queue in one Tab and Enter instead of twenty Tabs.
  document.addEventListener('click', function (e) {
    const link = e.target.closest && e.target.closest('.skip-link');
    if (!link) { return; }
    const queue = document.getElementById('command-queue');
    const cell = queue && (queue.querySelector('.ag-row[row-index="0"] .ag-cell[col-id="id"]') ||
                           queue.querySelector('.ag-center-cols-container .ag-cell') ||
                           queue.querySelector('.ag-header-cell'));
    if (cell) {
      e.preventDefault();
      cell.focus();
    }
  });
  document.addEventListener('keydown', function (e) {
    if (!document.getElementById('command-queue')) { return; }
    const active = document.activeElement;
    if (e.key === 'Enter') {
      const row = active && active.closest && active.closest('#command-queue .ag-row');
      if (row && row.getAttribute('row-id') && !active.closest('.ag-selection-checkbox')) {
        setProps('command-selected', {data: parseInt(row.getAttribute('row-id'), 10)});
        e.preventDefault();
      }
    } else if (e.key === 'Escape') {
      // Clear the selection even while the panel is still hidden: a click just before Esc has
      // selected an item whose panel is on its way, and the newer (empty) selection supersedes it.
      const panel = document.getElementById('command-detail');
      setProps('command-selected', {data: null});
      if (panel && !panel.hidden) {
        e.preventDefault();
      }
    } else if ((e.key === 'a' || e.key === 'A') && !typing(active) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      const panel = document.getElementById('command-detail');
      const button = panel && !panel.hidden && panel.querySelector('.assign-button:not([disabled])');
      if (button) {
        button.click();
        e.preventDefault();
      }
    }
  });
})();
