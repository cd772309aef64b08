// Keyboard on the command page: Enter on a queue row opens it, Esc closes the detail panel,
// "A" assigns the top suggestion of the open item (never while typing in a field).
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }
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
      const panel = document.getElementById('command-detail');
      if (panel && !panel.hidden) {
        setProps('command-selected', {data: null});
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
