;;; drive.el --- Emacs --batch session for tests/editors/test_emacs.py  -*- lexical-binding: t -*-
;; Starts the server with eglot as the README's recipe does, waits for the model, runs completion-at-point at
;; the end of the file, shuts eglot down, and writes what happened as JSON to $SMALLCODER_OUT.
(require 'eglot)
(require 'json)
(setq jsonrpc-default-request-timeout 120)
(setq eglot-sync-connect t eglot-connect-timeout 120)  ; a busy machine may take a while to answer `initialize'
;; Generous generation time, so that a busy machine still gives a whole completion (tests never time speed).
(setq-default eglot-workspace-configuration '((:smallcoder . (:completion (:timeoutMs 30000)))))

(defun smallcoder-test-write (alist)
  (with-temp-file (getenv "SMALLCODER_OUT") (insert (json-encode alist))))

(let* ((command (append (json-read-from-string (getenv "SMALLCODER_CMD")) nil))
       (result nil))
  (condition-case err
      (progn
        (find-file (getenv "SMALLCODER_FILE"))
        (python-mode)
        (eglot '(python-mode) (cons 'transient default-directory) 'eglot-lsp-server command "python")
        (let* ((server (eglot-current-server))
               (process (jsonrpc--process server))
               (status nil)
               (deadline (+ (float-time) 120)))
          (push (cons 'pid (process-id process)) result)
          (while (and (< (float-time) deadline)
                      (equal "loading" (plist-get (setq status (jsonrpc-request server :smallcoder/status nil))
                                                  :state)))
            (accept-process-output nil 0.1))
          (push (cons 'state (plist-get status :state)) result)
          (push (cons 'backend (plist-get status :backend)) result)
          (goto-char (point-max))
          (completion-at-point)
          (push (cons 'text (buffer-substring-no-properties (point-min) (point-max))) result)
          (dolist (buffer (buffer-list))  ; the server's log, for a failing test to show
            (when (string-match-p "stderr" (buffer-name buffer))
              (push (cons 'log (with-current-buffer buffer (buffer-string))) result)))
          (set-buffer-modified-p nil)
          (eglot-shutdown server)
          (push (cons 'alive_after_shutdown (process-live-p process)) result)))
    (error (push (cons 'error (error-message-string err)) result)))
  (smallcoder-test-write result))
(kill-emacs 0)
;;; drive.el ends here
