// Every page: show times in the reader's own zone and language (the server writes UTC).
"use strict";
(function () {
  const lang = document.documentElement.lang || undefined;
  const format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  window.urbisShowTime = function (element) {
    const at = new Date(element.getAttribute("datetime"));
    if (!isNaN(at)) {
      element.title = element.textContent;
      element.textContent = format.format(at);
    }
  };
  document.querySelectorAll("time[datetime]").forEach(window.urbisShowTime);
})();
