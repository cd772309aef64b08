// dcc.Upload draws a file input that no Dash property can name, so screen readers and axe find an
// unlabelled field: name each one after the visible text of its own drop zone.
(function () {
  function nameUploads() {
    document.querySelectorAll('input[type=file]:not([aria-label])').forEach(function (input) {
      const text = input.parentElement && input.parentElement.innerText.trim();
      if (text) {
        input.setAttribute('aria-label', text);
      }
    });
  }
  new MutationObserver(nameUploads).observe(document.documentElement, {childList: true, subtree: true});
})();
