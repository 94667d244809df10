
(function () {
  var graph = document.getElementById('lock-graph');
  var pinned = null;
  function show(number) {
    document.querySelectorAll('[data-findings]').forEach(function (element) {
      var on = number !== null && element.getAttribute('data-findings').split(' ').indexOf(number) >= 0;
      element.classList.toggle('hl', on);
    });
    if (graph) { graph.classList.toggle('focus', number !== null); }
    document.querySelectorAll('.finding').forEach(function (finding) {
      finding.classList.toggle('selected', finding.getAttribute('data-finding') === number);
    });
  }
  document.querySelectorAll('.finding[data-finding]').forEach(function (finding) {
    var number = finding.getAttribute('data-finding');
    finding.addEventListener('mouseenter', function () { show(number); });
    finding.addEventListener('mouseleave', function () { show(pinned); });
    finding.addEventListener('click', function () {
      pinned = pinned === number ? null : number;
      show(pinned);
    });
  });
  document.body.setAttribute('data-ready', 'yes');
})();
