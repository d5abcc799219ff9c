// sessionkeeper dashboard: live updates of the event feed over server-sent events.
// An external file because the Content-Security-Policy allows no inline script.
(() => {
  
  var MAX_ITEMS = 50;
  var feed = document.getElementById('event-feed');
  if (!feed || !window.EventSource) return;
  var status = document.getElementById('feed-status');

  function part(tag, className, text, title) {
    var element = document.createElement(tag);
    element.className = className;
    element.textContent = text;
    if (title) element.title = title;
    return element;
  }

  var source = new EventSource(feed.getAttribute('data-stream'));
  source.addEventListener('open', () => {
    status.textContent = 'live · every process · newest first';
  });
  source.addEventListener('error', () => {
    // CLOSED: the server refused to reconnect (signed out, or busy), and the browser will not try again.
    status.textContent = source.readyState === EventSource.CLOSED ? 'stopped · reload the page' : 'reconnecting…';
  });
  source.addEventListener('lifecycle', (message) => {
    var entry = JSON.parse(message.data);
    var item = document.createElement('li');
    item.className = 'event event-new';
    var time = part('time', '', entry.display.time);
    time.setAttribute('datetime', entry.at);
    item.append(time, ' ', part('span', 'event-name', entry.event), ' ',
      part('code', 'event-sid', entry.display.sid, entry.sid || ''), ' ', part('span', 'meta', entry.display.detail));
    feed.prepend(item);
    var empty = document.getElementById('feed-empty');
    if (empty) empty.remove();
    while (feed.children.length > MAX_ITEMS) feed.lastElementChild.remove();
  });
})();
