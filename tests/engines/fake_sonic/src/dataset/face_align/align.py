"""Stand-in for src/dataset/face_align/align.py: AlignImage(device, det_path)(im, maxface)
-> (five_pts_list, scores_list, bboxes_list), boxes as [x, y, w, h]. The official class runs
YOLO-face; this one runs OpenCV's Haar frontal-face cascade (Debian's opencv-data), which
finds the same kind of frontal portrait and nothing on a picture without a face."""
import os

import cv2
import numpy as np

from src.utils.stand_in import switch

CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


class AlignImage(object):
    def __init__(self, device="cuda", det_path="checkpoints/yoloface_v5m.pt"):
        if not os.path.exists(CASCADE):
            raise RuntimeError("the stand-in face detector needs " + CASCADE + " (Debian package opencv-data)")
        self.facedet = cv2.CascadeClassifier(CASCADE)
        self.device = device

    def __call__(self, im, maxface=False):
        gray = cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_BGR2GRAY)
        found = [] if switch("NO_FACE") else self.facedet.detectMultiScale(gray, 1.1, 5, minSize=(32, 32))
        bboxes = [np.array(box, dtype=np.float32) for box in found]
        scores = [0.9 for _ in bboxes]
        five_pts = [np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h], [x + 0.5 * w, y + 0.6 * h],
                              [x + 0.35 * w, y + 0.8 * h], [x + 0.65 * w, y + 0.8 * h]]) for x, y, w, h in bboxes]
        if maxface and len(bboxes) > 1:
            largest = max(range(len(bboxes)), key=lambda i: bboxes[i][2] * bboxes[i][3])
            return [five_pts[largest]], [scores[largest]], [bboxes[largest]]
        return five_pts, scores, bboxes
